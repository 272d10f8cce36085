"""The canvas's drafts and node positions.

A draft is the marketer's unpublished work on one journey kind: saved as it stands (it may be incomplete, or
invalid, since it is work in progress), with where each node sits and who saved it when. Nothing runs a draft;
publishing validates it like any definition, makes it a version with its positions, and drops the draft in the
same transaction. Positions never change what runs: the workflow reads the definition only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from models import Journey, JourneyDraft, JourneyVersion
from services.journeys import service
from services.journeys.definition import Definition, StepId
from services.platform import audit
from services.platform.audit import Actor

MAX_DRAFT_BYTES = 200_000
_KIND = re.compile(r"[a-z][a-z0-9_]{1,63}")
_COORDINATE = Annotated[float, Field(ge=-1_000_000, le=1_000_000, allow_inf_nan=False)]


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: _COORDINATE
    y: _COORDINATE


class Layout(RootModel[dict[StepId, Position]]):
    """{step id: {"x", "y"}}: where the canvas draws each step."""

    root: dict[StepId, Position] = Field(default_factory=dict, max_length=200)

    def for_steps(self, definition: Definition) -> dict[str, Any]:
        """The positions of the definition's steps only, as stored beside a version."""
        ids = {step.id for step in definition.steps}
        return {step_id: spot.model_dump() for step_id, spot in self.root.items() if step_id in ids}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("the draft is invalid", code="invalid_draft", details=[{"field": field, "message": message}])


def read_layout(raw: Any, *, field: str = "layout") -> Layout:
    """A layout from a request, with a 422 that names the position at fault."""
    try:
        return Layout.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        details = [
            {"field": ".".join([field, *(str(p) for p in err["loc"])]), "message": err["msg"]} for err in exc.errors()
        ]
        raise InvalidInput("the layout is invalid", code="invalid_layout", details=details) from exc


def check_kind(kind: str) -> None:
    if not _KIND.fullmatch(kind):
        raise _invalid("body.kind", "a kind is 2-64 lower-case letters, digits and _, starting with a letter")


async def get_draft(session: AsyncSession, kind: str) -> JourneyDraft | None:
    return await session.get(JourneyDraft, kind)


async def list_new_drafts(session: AsyncSession) -> list[JourneyDraft]:
    """Drafts of journeys not published yet (new journeys saved before their first publish)."""
    stmt = (
        select(JourneyDraft)
        .outerjoin(Journey, Journey.kind == JourneyDraft.kind)
        .where(Journey.kind.is_(None))
        .order_by(JourneyDraft.updated_at.desc())
    )
    return list((await session.execute(stmt)).scalars().all())


async def save_draft(
    session: AsyncSession, kind: str, definition: dict[str, Any], layout: Layout, *, actor: Actor
) -> JourneyDraft:
    """Store (or replace) the kind's draft as it stands. Only its envelope is checked: an object of bounded size
    whose `kind`, if given, is this one; the steps are checked when it is published."""
    check_kind(kind)
    if definition.get("kind", kind) != kind:
        raise _invalid("body.kind", f"must be {kind!r}")
    if len(json.dumps(definition, ensure_ascii=False)) > MAX_DRAFT_BYTES:
        raise _invalid("body", f"a draft holds at most {MAX_DRAFT_BYTES:,} characters of JSON")
    journey = await session.get(Journey, kind)
    values = {
        "definition": definition,
        "layout": {step_id: spot.model_dump() for step_id, spot in layout.root.items()},
        "base_version": journey.current_version if journey is not None else None,
        "updated_by": actor.name,
        "updated_at": datetime.now(UTC),
    }
    await session.execute(
        insert(JourneyDraft).values(kind=kind, **values).on_conflict_do_update(index_elements=["kind"], set_=values)
    )
    await session.flush()
    draft = await session.get(JourneyDraft, kind, populate_existing=True)
    assert draft is not None
    await audit.record(session, actor, action="journey.draft_save", target_type="journey", target_id=kind, details={})
    return draft


async def discard_draft(session: AsyncSession, kind: str, *, actor: Actor) -> None:
    result = await session.execute(delete(JourneyDraft).where(JourneyDraft.kind == kind).returning(JourneyDraft.kind))
    if result.scalar_one_or_none() is None:
        raise NotFound(f"journey {kind!r} has no draft", code="draft_not_found")
    await audit.record(
        session, actor, action="journey.draft_discard", target_type="journey", target_id=kind, details={}
    )


async def publish_draft(
    session: AsyncSession, kind: str, raw: dict[str, Any], layout: Layout, *, actor: Actor, new: bool
) -> JourneyVersion:
    """Validate and publish (or, for a new journey, create) with the positions beside it, and drop the kind's
    draft. Raises before writing anything when the definition is invalid, so a failed publish leaves the
    versions and the draft as they were."""
    check_kind(kind)
    definition = service.parse(raw)
    if definition.kind != kind:
        raise InvalidInput(
            "the definition's kind does not match the URL",
            code="invalid_definition",
            details=[{"field": "body.kind", "message": f"must be {kind!r}"}],
        )
    positions = layout.for_steps(definition)
    if new:
        row = await service.create(session, definition, actor=actor, layout=positions)
    else:
        row = await service.publish(session, kind, definition, actor=actor, layout=positions)
    await session.execute(delete(JourneyDraft).where(JourneyDraft.kind == kind))
    return row
