"""The segment filter language translated to SQL: every condition compiles to a predicate that is never NULL,
so `not` matches exactly the members its condition does not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    extract,
    func,
    not_,
    or_,
    true,
)

from models import Member
from services.segments import rfm
from services.segments.filter import (
    BOUNDS,
    AttributeCondition,
    DaysRange,
    NumberRange,
    Range,
    RfmCondition,
    SegmentFilter,
    TagsCondition,
)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _ops(value: SQLColumnExpression[Any]) -> dict[str, Callable[[Any], ColumnElement[bool]]]:
    return {
        "eq": value.__eq__,
        "gt": value.__gt__,
        "gte": value.__ge__,
        "lt": value.__lt__,
        "lte": value.__le__,
    }


def _bounds(value: SQLColumnExpression[Any], rng: Range) -> list[ColumnElement[bool]]:
    ops = _ops(value)
    return [ops[name](getattr(rng, name)) for name in BOUNDS if getattr(rng, name) is not None]


def _days_since(column: SQLColumnExpression[Any], rng: DaysRange, today: date) -> ColumnElement[bool]:
    """Whole UTC days between the timestamp's day and today, as bounds on the timestamp itself (so an index
    on the column serves it): days >= n means before the start of day today - n + 1."""
    low, high = rng.eq, rng.eq
    if rng.gte is not None:
        low = rng.gte
    elif rng.gt is not None:
        low = rng.gt + 1
    if rng.lte is not None:
        high = rng.lte
    elif rng.lt is not None:
        high = rng.lt - 1
    parts: list[ColumnElement[bool]] = []
    if low is not None:
        parts.append(column < _start_of(today - timedelta(days=low - 1)))
    if high is not None:
        parts.append(column >= _start_of(today - timedelta(days=high)))
    return and_(*parts)


@dataclass(frozen=True)
class FilterContext:
    today: date
    scores: Subquery | None


_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _equals_or_has(key: str, value: Any) -> ColumnElement[bool]:
    """The attribute is `value`, or (a multi-select's list) has it among its options. Both are containment,
    so a GIN index on attributes serves them, and neither is ever NULL."""
    attrs = Member.attributes
    return or_(attrs.contains({key: value}), attrs.contains({key: [value]}))


def _ordered(cond: AttributeCondition) -> ColumnElement[bool]:
    """Bounds on a number (as a numeric) or on a date (its ISO text in byte order, which is chronological,
    whatever the database's collation). A value of another JSON type, or text that is no date, never matches;
    the type test comes first and the comparison only sees the right type, so the predicate is never NULL."""
    value = Member.attributes[cond.key]
    if cond.date_bounds:
        is_text = func.coalesce(func.jsonb_typeof(value), "") == "string"
        text = case((is_text, value.astext)).collate("C")
        is_date = and_(is_text, text.regexp_match(_ISO_DATE))
        as_text = _ops(text)
        return and_(is_date, *(as_text[name](str(bound)) for name, bound in cond.bounds.items()))
    is_number = func.coalesce(func.jsonb_typeof(value), "") == "number"
    number = case((is_number, value.astext.cast(Numeric)))
    return and_(is_number, *_bounds(number, NumberRange.model_validate(cond.bounds)))


def _attribute(cond: AttributeCondition) -> ColumnElement[bool]:
    if cond.eq is not None:
        return _equals_or_has(cond.key, cond.eq)
    if cond.in_ is not None:
        return or_(*(_equals_or_has(cond.key, v) for v in cond.in_))
    if cond.exists is not None:
        has: ColumnElement[bool] = Member.attributes.has_key(cond.key)
        return has if cond.exists else not_(has)
    return _ordered(cond)


def _tags(cond: TagsCondition) -> ColumnElement[bool]:
    result: ColumnElement[bool]
    if cond.any is not None:
        result = Member.tags.overlap(cond.any)
    elif cond.all is not None:
        result = Member.tags.contains(cond.all)
    else:
        assert cond.none is not None
        result = not_(Member.tags.overlap(cond.none))
    return result


def _rfm(cond: RfmCondition, scores: Subquery) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [scores.c.member_id.is_not(None)]
    for name in ("recency", "frequency", "monetary"):
        rng = getattr(cond, name)
        if rng is not None:
            parts.extend(_bounds(scores.c[name], rng))
    return and_(*parts)


def compile_filter(node: SegmentFilter, ctx: FilterContext) -> ColumnElement[bool]:
    if node.all is not None:
        return and_(true(), *(compile_filter(c, ctx) for c in node.all))
    if node.any is not None:
        return or_(*(compile_filter(c, ctx) for c in node.any))
    if node.not_ is not None:
        return not_(compile_filter(node.not_, ctx))
    if node.tier is not None:
        return Member.tier.in_(node.tier)
    if node.source is not None:  # members from the API or an import have no source and never match
        return and_(Member.source.is_not(None), Member.source.in_(node.source))
    if node.tags is not None:
        return _tags(node.tags)
    if node.consent is not None:
        parts = []
        if node.consent.email is not None:
            parts.append(Member.consent_email.is_(node.consent.email))
        if node.consent.sms is not None:
            parts.append(Member.consent_sms.is_(node.consent.sms))
        return and_(*parts)
    if node.lifetime_spend is not None:
        return and_(*_bounds(Member.lifetime_spend, node.lifetime_spend))
    if node.order_count is not None:
        return and_(*_bounds(Member.order_count, node.order_count))
    if node.has_purchased is not None:
        purchased = Member.last_purchase_at.is_not(None)
        return purchased if node.has_purchased else not_(purchased)
    if node.days_since_last_purchase is not None:
        rng = node.days_since_last_purchase
        in_range = and_(Member.last_purchase_at.is_not(None), _days_since(Member.last_purchase_at, rng, ctx.today))
        return or_(Member.last_purchase_at.is_(None), in_range) if rng.include_never_purchased else in_range
    if node.signed_up is not None:
        window: list[ColumnElement[bool]] = []
        if node.signed_up.on_or_after is not None:
            window.append(Member.created_at >= _start_of(node.signed_up.on_or_after))
        if node.signed_up.before is not None:
            window.append(Member.created_at < _start_of(node.signed_up.before))
        return and_(*window)
    if node.days_since_signup is not None:
        return _days_since(Member.created_at, node.days_since_signup, ctx.today)
    if node.birthday_month is not None:
        return and_(Member.birthday.is_not(None), extract("month", Member.birthday).in_(node.birthday_month))
    if node.attribute is not None:
        return _attribute(node.attribute)
    assert ctx.scores is not None, "RFM conditions need the scores joined"
    if node.rfm is not None:
        return _rfm(node.rfm, ctx.scores)
    assert node.rfm_segment is not None
    return func.coalesce(ctx.scores.c.segment, rfm.NEVER_PURCHASED).in_(node.rfm_segment)
