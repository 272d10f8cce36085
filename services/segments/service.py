"""Segments: saved member filters, the SQL that selects their members, previews, and RFM summaries.

The filter language is in services.segments.filter; the RFM scoring in services.segments.rfm. `member_query` is one
SQL statement, so a campaign can snapshot a segment with a single INSERT ... SELECT."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import ColumnElement, Row, Select, Subquery, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound, problem_message
from models import Member, MemberField, Segment, Tier
from services.members import field_use
from services.members.fields import FieldType
from services.platform import audit
from services.platform.audit import Actor
from services.segments import rfm
from services.segments.filter import MAX_CONDITIONS, MAX_DEPTH, AttributeCondition, SegmentFilter, uses_rfm, walk
from services.segments.rfm import RfmGroup, RfmScores, rfm_scores, rfm_summary
from services.segments.sql import FilterContext, compile_filter

__all__ = [
    "Preview",
    "PreviewMember",
    "RfmGroup",
    "RfmScores",
    "SegmentCreate",
    "SegmentFilter",
    "check",
    "create",
    "definition_of",
    "delete",
    "get",
    "list_segments",
    "member_query",
    "parse",
    "preview",
    "rfm_scores",
    "rfm_summary",
    "update",
]

FIELD_PREFIX = ("body", "definition")
MAX_SAMPLE = 100
# Each level of all/any/not is two JSON levels (the object and its list); leaves add up to three more.
MAX_JSON_DEPTH = 2 * MAX_DEPTH + 6

SegmentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class SegmentCreate(BaseModel):
    """A segment as saved; `definition` is checked by `parse` so its errors name the field inside it."""

    model_config = ConfigDict(extra="forbid")

    name: SegmentName
    description: Description | None = None
    definition: dict[str, Any] = Field(description="A segment filter (docs/segments.md)")


# --- parsing and validation ------------------------------------------------------------------------------


def _field(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in (*FIELD_PREFIX, *loc))


def _invalid(details: list[dict[str, str]]) -> InvalidInput:
    return InvalidInput("the segment definition is invalid", code="invalid_segment", details=details)


def _json_depth(value: Any) -> int:
    """Nesting depth of JSON, without recursion (hostile input may nest thousands deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse(raw: dict[str, Any]) -> SegmentFilter:
    """A filter from its JSON; errors are InvalidInput(code="invalid_segment") naming `body.definition.<path>`."""
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise _invalid([{"field": _field(()), "message": f"conditions nest at most {MAX_DEPTH} levels deep"}])
    try:
        definition = SegmentFilter.model_validate(raw)
    except ValidationError as exc:
        details = [{"field": _field(tuple(err["loc"])), "message": problem_message(err)} for err in exc.errors()]
        raise _invalid(details) from exc
    nodes = list(walk(definition))
    deepest = max(sum(1 for part in path if part in ("all", "any", "not")) for path, _ in nodes)
    if deepest > MAX_DEPTH:
        raise _invalid([{"field": _field(()), "message": f"conditions nest at most {MAX_DEPTH} levels deep"}])
    if len(nodes) > MAX_CONDITIONS:
        raise _invalid([{"field": _field(()), "message": f"a filter has at most {MAX_CONDITIONS} conditions"}])
    return definition


async def check(session: AsyncSession, definition: SegmentFilter) -> None:
    """What the schema cannot know: tier codes must be on the current ladder, and an `attribute` test must
    name a defined custom member field and fit its type (see _attribute_problems)."""
    known = set((await session.execute(select(Tier.code))).scalars().all())
    problems = [
        {"field": _field((*path, "tier", i)), "message": f"unknown tier {code!r}; known: {', '.join(sorted(known))}"}
        for path, node in walk(definition)
        for i, code in enumerate(node.tier or ())
        if code not in known
    ]
    if any(node.attribute is not None for _, node in walk(definition)):
        fields = await field_use.definitions(session)
        for path, node in walk(definition):
            if node.attribute is not None:
                at = (*path, "attribute")
                problems.extend(
                    {"field": _field((*at, *part)), "message": message}
                    for part, message in _attribute_problems(node.attribute, fields)
                )
    if problems:
        raise _invalid(problems)


def _attribute_problems(
    cond: AttributeCondition, fields: dict[str, MemberField]
) -> list[tuple[tuple[str | int, ...], str]]:
    """(path inside the test, message) of what does not fit the field: no such field; bounds on a field that
    is neither a number nor a date, or bounds of the other kind; an eq/in value the field cannot hold (for a
    select, an option it does not offer)."""
    field = fields.get(cond.key)
    if field is None:
        return [(("key",), field_use.unknown_field(cond.key))]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    wanted = {FieldType.NUMBER: "numbers", FieldType.DATE: "dates (YYYY-MM-DD)"}.get(FieldType(field.type))
    for name in cond.bounds:
        if wanted is None:
            problems.append(((name,), f"bounds test number and date fields; {field.key} is a {field.type} field"))
        elif cond.date_bounds != (field.type == FieldType.DATE):
            problems.append(((name,), f"{field.key} is a {field.type} field: its bounds are {wanted}"))
    values: list[tuple[tuple[str | int, ...], Any]] = [(("eq",), cond.eq)] if cond.eq is not None else []
    values += [(("in", index), value) for index, value in enumerate(cond.in_ or ())]
    for part, value in values:
        message = field_use.value_problem(field, value)
        if message is not None:
            problems.append((part, message))
    return problems


def definition_of(segment: Segment) -> SegmentFilter:
    return SegmentFilter.model_validate(segment.definition)


# --- the member query ------------------------------------------------------------------------------------


def member_query(definition: SegmentFilter, *, today: date | None = None) -> Select[uuid.UUID]:
    """SELECT of the matching members' ids (one column, `member_id`), unordered. Day-based conditions count
    whole UTC days up to `today` (default: today in UTC). RFM scores come from a subquery in the same
    statement, so the result can feed an INSERT ... SELECT directly."""
    today = today or datetime.now(UTC).date()
    stmt = select(Member.id.label("member_id"))
    scores = None
    if uses_rfm(definition):
        scores = rfm.scores_subquery()
        stmt = stmt.outerjoin(scores, scores.c.member_id == Member.id)
    # Erased members are in no segment, so no campaign enrols them.
    return stmt.where(Member.erased_at.is_(None), compile_filter(definition, FilterContext(today=today, scores=scores)))


@dataclass(frozen=True)
class PreviewMember:
    id: uuid.UUID
    external_id: str
    tier: str
    lifetime_spend: Decimal
    order_count: int
    last_purchase_at: datetime | None
    rfm: RfmScores | None


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[PreviewMember]


async def preview(
    session: AsyncSession, definition: SegmentFilter, *, sample: int = 20, today: date | None = None
) -> Preview:
    """How many members match, and the newest `sample` of them with their RFM scores."""
    sample = max(0, min(sample, MAX_SAMPLE))
    today = today or datetime.now(UTC).date()
    if uses_rfm(definition):
        # The filter ranks every buyer anyway: count and sample in one statement over that ranking.
        return await _preview_in_one(session, definition, sample=sample, today=today)
    # Otherwise the count is a plain filter (an index or one scan), and only the sample joins the ranking.
    count = (
        await session.execute(select(func.count()).select_from(member_query(definition, today=today).subquery()))
    ).scalar_one()
    if sample == 0 or count == 0:
        return Preview(count=int(count), sample=[])
    page = (
        select(*_MEMBER_COLUMNS)
        .where(compile_filter(definition, FilterContext(today=today, scores=None)))
        .order_by(Member.id.desc())
        .limit(sample)
        .subquery("page")
    )
    scores = rfm.scores_subquery()
    rows = (
        await session.execute(
            select(page, *_score_columns(scores))
            .outerjoin(scores, scores.c.member_id == page.c.id)
            .order_by(page.c.id.desc())
        )
    ).all()
    return Preview(count=int(count), sample=[_preview_member(r) for r in rows])


_MEMBER_COLUMNS = (
    Member.id,
    Member.external_id,
    Member.tier,
    Member.lifetime_spend,
    Member.order_count,
    Member.last_purchase_at,
)


def _score_columns(scores: Subquery) -> tuple[ColumnElement[Any], ...]:
    return (scores.c.recency, scores.c.frequency, scores.c.monetary, scores.c.segment)


def _preview_member(row: Row[Any]) -> PreviewMember:
    return PreviewMember(
        id=row.id,
        external_id=row.external_id,
        tier=row.tier,
        lifetime_spend=row.lifetime_spend,
        order_count=row.order_count,
        last_purchase_at=row.last_purchase_at,
        rfm=RfmScores(row.recency, row.frequency, row.monetary, row.segment) if row.recency is not None else None,
    )


async def _preview_in_one(session: AsyncSession, definition: SegmentFilter, *, sample: int, today: date) -> Preview:
    scores = rfm.scores_subquery()
    where = compile_filter(definition, FilterContext(today=today, scores=scores))
    if sample == 0:
        stmt = select(func.count()).select_from(Member).outerjoin(scores, scores.c.member_id == Member.id).where(where)
        return Preview(count=int((await session.execute(stmt)).scalar_one()), sample=[])
    rows = (
        await session.execute(
            select(*_MEMBER_COLUMNS, *_score_columns(scores), func.count().over().label("total"))
            .outerjoin(scores, scores.c.member_id == Member.id)
            .where(where)
            .order_by(Member.id.desc())
            .limit(sample)
        )
    ).all()
    return Preview(count=int(rows[0].total) if rows else 0, sample=[_preview_member(r) for r in rows])


# --- saved segments --------------------------------------------------------------------------------------


async def get(session: AsyncSession, segment_id: uuid.UUID) -> Segment:
    segment = await session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}", code="segment_not_found")
    return segment


async def list_segments(session: AsyncSession) -> list[Segment]:
    return list((await session.execute(select(Segment).order_by(Segment.name))).scalars().all())


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a segment named {name!r} exists", code="segment_exists", details={"name": name})


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise _name_taken(name) from exc


async def _audit(session: AsyncSession, actor: Actor, action: str, segment_id: uuid.UUID) -> None:
    await audit.record(session, actor, action=f"segment.{action}", target_type="segment", target_id=str(segment_id))


async def create(session: AsyncSession, data: SegmentCreate, *, actor: Actor) -> Segment:
    definition = parse(data.definition)
    await check(session, definition)
    segment = Segment(
        name=data.name, description=data.description, definition=definition.to_json(), created_by=actor.name
    )
    session.add(segment)
    await _flush_unique(session, data.name)
    await _audit(session, actor, "create", segment.id)
    return segment


async def update(session: AsyncSession, segment_id: uuid.UUID, data: SegmentCreate, *, actor: Actor) -> Segment:
    """Replace name, description and definition. Campaigns keep the snapshot they took when they started."""
    definition = parse(data.definition)
    segment = await get(session, segment_id)
    await check(session, definition)
    segment.name = data.name
    segment.description = data.description
    segment.definition = definition.to_json()
    segment.updated_at = datetime.now(UTC)
    await _flush_unique(session, data.name)
    await _audit(session, actor, "update", segment_id)
    return segment


async def delete(session: AsyncSession, segment_id: uuid.UUID, *, actor: Actor) -> None:
    """Delete a segment; one that a campaign refers to (a RESTRICT foreign key) is 409 `segment_in_use`."""
    await get(session, segment_id)
    try:
        async with session.begin_nested():
            await session.execute(sql_delete(Segment).where(Segment.id == segment_id))
    except IntegrityError as exc:
        raise Conflict(
            "the segment is used by a campaign; delete or change the campaign first", code="segment_in_use"
        ) from exc
    await _audit(session, actor, "delete", segment_id)
