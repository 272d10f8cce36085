"""The segment filter language: a validated JSON tree of member conditions (services.segments.sql compiles it).

A filter is one condition object with exactly one key: a test on the member (`tier`, `source`, `tags`, `consent`,
`lifetime_spend`, `order_count`, `has_purchased`, `days_since_last_purchase`, `signed_up`,
`days_since_signup`, `birthday_month`, `attribute` (a custom member field), `rfm`, `rfm_segment`) or a
combination (`all`, `any`, `not`). docs/segments.md is the reference. Every condition compiles to a
predicate that is never NULL, so `not` always matches exactly the members its condition does not."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, StringConstraints, model_validator

from services.definitions import Strict
from services.segments import rfm

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_DAYS = 36_500
MAX_MONEY = Decimal("1000000000000")

TierCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# A sign-up source as services.portal.join stores it (members.source): a channel or store code, or `direct`.
SourceCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,63}$")]
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]


def _scalar(value: Any) -> str | bool | int | float:
    """A JSON scalar an attribute can equal: a short string, a finite number, or true/false."""
    if isinstance(value, str) and len(value) <= 200 and "\x00" not in value:
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError("must be a string (up to 200 characters), a number, or true/false")


AttributeValue = Annotated[str | bool | int | float, PlainValidator(_scalar)]
Month = Annotated[int, Field(ge=1, le=12)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2)]
Score = Annotated[int, Field(ge=1, le=5)]
Number = Annotated[Decimal, Field(ge=-MAX_MONEY, le=MAX_MONEY, max_digits=30)]
RFM_GROUPS = rfm.ALL_GROUPS  # the module name is shadowed by the `rfm` field inside SegmentFilter
RfmSegmentName = Literal[RFM_GROUPS]  # type: ignore[valid-type]
BOUNDS = ("eq", "gt", "gte", "lt", "lte")


class Range(Strict):
    """`eq`, or any of `gt`/`gte` (lower bound) with `lt`/`lte` (upper bound)."""

    @model_validator(mode="after")
    def _coherent(self) -> Range:
        given = {name: getattr(self, name) for name in BOUNDS if getattr(self, name) is not None}
        if not given:
            raise ValueError("give a bound: eq, gt, gte, lt or lte")
        if "eq" in given and len(given) > 1:
            raise ValueError("eq cannot be combined with other bounds")
        if "gt" in given and "gte" in given:
            raise ValueError("give gt or gte, not both")
        if "lt" in given and "lte" in given:
            raise ValueError("give lt or lte, not both")
        low = given.get("gte", given.get("gt"))
        high = given.get("lte", given.get("lt"))
        if low is not None and high is not None:
            strict = "gt" in given or "lt" in given
            if low > high or (strict and low == high):
                raise ValueError("the range is empty: the lower bound is above the upper bound")
        return self


class CountRange(Range):
    eq: Count | None = None
    gt: Count | None = None
    gte: Count | None = None
    lt: Count | None = None
    lte: Count | None = None


class MoneyRange(Range):
    eq: Money | None = None
    gt: Money | None = None
    gte: Money | None = None
    lt: Money | None = None
    lte: Money | None = None


class DaysRange(Range):
    eq: Days | None = None
    gt: Days | None = None
    gte: Days | None = None
    lt: Days | None = None
    lte: Days | None = None


class RecencyRange(DaysRange):
    # Members who never purchased have no "days since": by default they never match; with this set they
    # always match (as if their last purchase were infinitely long ago, e.g. for "no purchase in 90 days").
    include_never_purchased: bool = False


class ScoreRange(Range):
    eq: Score | None = None
    gt: Score | None = None
    gte: Score | None = None
    lt: Score | None = None
    lte: Score | None = None


class NumberRange(Range):
    eq: Number | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None


class TagsCondition(Strict):
    """Exactly one of: the member has any of these tags, all of them, or none of them."""

    any: list[Tag] | None = Field(default=None, min_length=1, max_length=50)
    all: list[Tag] | None = Field(default=None, min_length=1, max_length=50)
    none: list[Tag] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one(self) -> TagsCondition:
        if sum(v is not None for v in (self.any, self.all, self.none)) != 1:
            raise ValueError("tags takes exactly one of: any, all, none")
        return self


class ConsentCondition(Strict):
    email: bool | None = None
    sms: bool | None = None

    @model_validator(mode="after")
    def _some(self) -> ConsentCondition:
        if self.email is None and self.sms is None:
            raise ValueError("consent takes email and/or sms (true or false)")
        return self


class SignupDates(Strict):
    """Signed up on or after one UTC day and/or before another."""

    on_or_after: date | None = None
    before: date | None = None

    @model_validator(mode="after")
    def _some(self) -> SignupDates:
        if self.on_or_after is None and self.before is None:
            raise ValueError("signed_up takes on_or_after and/or before (YYYY-MM-DD)")
        if self.on_or_after is not None and self.before is not None and self.before <= self.on_or_after:
            raise ValueError("the range is empty: before must be after on_or_after")
        return self


class DateRange(Range):
    eq: date | None = None
    gt: date | None = None
    gte: date | None = None
    lt: date | None = None
    lte: date | None = None


# A bound on an attribute: a number, or a date (YYYY-MM-DD) for date fields. Numbers are tried first, so "3"
# stays the number it always was.
AttributeBound = Annotated[Number | date, Field(union_mode="left_to_right")]
ORDER_BOUNDS = ("gt", "gte", "lt", "lte")


class AttributeCondition(Strict):
    """A test on one key of the member's attributes: eq, in, exists, or bounds (gt/gte/lt/lte), all numbers
    (number fields) or all dates (date fields, compared as dates). On a multi-select field, eq and in ask
    whether the member has the option (any of the options)."""

    key: AttributeKey
    eq: AttributeValue | None = None
    in_: list[AttributeValue] | None = Field(default=None, alias="in", min_length=1, max_length=100)
    exists: bool | None = None
    gt: AttributeBound | None = None
    gte: AttributeBound | None = None
    lt: AttributeBound | None = None
    lte: AttributeBound | None = None

    @model_validator(mode="after")
    def _one_test(self) -> AttributeCondition:
        bounds = self.bounds
        forms = [self.eq is not None, self.in_ is not None, self.exists is not None, bool(bounds)]
        if sum(forms) != 1:
            raise ValueError("an attribute test takes exactly one of: eq, in, exists, or bounds gt/gte/lt/lte")
        if bounds:
            if all(isinstance(v, date) for v in bounds.values()):
                DateRange(**bounds)
            elif all(isinstance(v, Decimal) for v in bounds.values()):
                NumberRange(**bounds)
            else:
                raise ValueError("bounds are all numbers or all dates (YYYY-MM-DD), not a mix")
        return self

    @property
    def bounds(self) -> dict[str, Decimal | date]:
        """The bounds given, by name (gt, gte, lt, lte)."""
        return {name: getattr(self, name) for name in ORDER_BOUNDS if getattr(self, name) is not None}

    @property
    def date_bounds(self) -> bool:
        return any(isinstance(v, date) for v in self.bounds.values())


class RfmCondition(Strict):
    """Bounds on the RFM scores (1-5); members who never purchased have no scores and never match."""

    recency: ScoreRange | None = None
    frequency: ScoreRange | None = None
    monetary: ScoreRange | None = None

    @model_validator(mode="after")
    def _some(self) -> RfmCondition:
        if self.recency is None and self.frequency is None and self.monetary is None:
            raise ValueError("rfm takes recency, frequency and/or monetary score bounds")
        return self


_CONDITION_KEYS = (
    "all",
    "any",
    "not",
    "tier",
    "source",
    "tags",
    "consent",
    "lifetime_spend",
    "order_count",
    "has_purchased",
    "days_since_last_purchase",
    "signed_up",
    "days_since_signup",
    "birthday_month",
    "attribute",
    "rfm",
    "rfm_segment",
)


class SegmentFilter(Strict):
    """One condition: exactly one key. `{"all": []}` matches every member."""

    all: list[SegmentFilter] | None = Field(default=None, max_length=50)
    any: list[SegmentFilter] | None = Field(default=None, min_length=1, max_length=50)
    not_: SegmentFilter | None = Field(default=None, alias="not")
    tier: list[TierCode] | None = Field(default=None, min_length=1, max_length=20)
    source: list[SourceCode] | None = Field(default=None, min_length=1, max_length=50)
    tags: TagsCondition | None = None
    consent: ConsentCondition | None = None
    lifetime_spend: MoneyRange | None = None
    order_count: CountRange | None = None
    has_purchased: bool | None = None
    days_since_last_purchase: RecencyRange | None = None
    signed_up: SignupDates | None = None
    days_since_signup: DaysRange | None = None
    birthday_month: list[Month] | None = Field(default=None, min_length=1, max_length=12)
    attribute: AttributeCondition | None = None
    rfm: RfmCondition | None = None
    rfm_segment: list[RfmSegmentName] | None = Field(default=None, min_length=1, max_length=len(RFM_GROUPS))

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_key(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [k for k in data if k in _CONDITION_KEYS]
            if len(known) != 1 and len(data) == len(known):
                found = ", ".join(known) or "none"
                raise ValueError(
                    f"a condition has exactly one key (found: {found}); combine several with all/any, "
                    'and use {"all": []} for every member'
                )
        return data

    @model_validator(mode="after")
    def _exactly_one_value(self) -> SegmentFilter:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a condition needs exactly one key with a value (found: {', '.join(given) or 'none'})")
        return self

    def to_json(self) -> dict[str, Any]:
        """The stored form: parse(to_json()) gives the same filter back."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def walk(
    node: SegmentFilter, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], SegmentFilter]]:
    """Every condition in the tree with its path (as in error locations: ("all", 0, "not"))."""
    yield path, node
    for key, children in (("all", node.all), ("any", node.any)):
        for index, child in enumerate(children or ()):
            yield from walk(child, (*path, key, index))
    if node.not_ is not None:
        yield from walk(node.not_, (*path, "not"))


def uses_rfm(node: SegmentFilter) -> bool:
    return any(n.rfm is not None or n.rfm_segment is not None for _, n in walk(node))
