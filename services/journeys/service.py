"""Member journeys: versioned definitions (create, publish, enable); which runs an event starts or wakes is
services.journeys.triggers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound, problem_message
from models import CouponTemplate, Journey, JourneyVersion, Survey
from services.definitions import Problem
from services.journeys.builtins import BUILTIN_COUPONS, BUILTIN_JOURNEYS, SHIPPED_BEFORE
from services.journeys.definition import Definition, error_field, stored
from services.journeys.validation import validate
from services.members import field_use
from services.platform import audit
from services.platform.audit import Actor

# --- definitions -----------------------------------------------------------------------------------------


async def seed_builtins(session: AsyncSession) -> int:
    """Insert the shipped journeys (version 1) and their coupon templates where missing; returns how many
    journeys were added. Existing ones, edited or not, are left alone."""
    for coupon in BUILTIN_COUPONS:
        await session.execute(
            insert(CouponTemplate)
            .values(**coupon, min_spend=0, active=True)
            .on_conflict_do_nothing(index_elements=["code"])
        )
    added = 0
    for raw in BUILTIN_JOURNEYS:
        definition = Definition.model_validate(raw)
        if await _add_first_version(session, definition, author="memberflow", builtin=True):
            added += 1
        else:
            await _bring_up_to_date(session, definition)
    await session.flush()
    return added


async def _bring_up_to_date(session: AsyncSession, shipped: Definition) -> None:
    """A built-in whose current version is one we shipped before (SHIPPED_BEFORE) gets today's as a new version,
    drawn where the old one was; one a marketer changed is theirs and stays as it is. Running runs keep theirs."""
    earlier = SHIPPED_BEFORE.get(shipped.kind)
    if not earlier:
        return
    journey = (
        await session.execute(select(Journey).where(Journey.kind == shipped.kind).with_for_update())
    ).scalar_one()
    current = await get_version(session, shipped.kind, journey.current_version)
    if not journey.builtin or current.definition not in [stored(Definition.model_validate(raw)) for raw in earlier]:
        return
    await publish(session, shipped.kind, shipped, actor=Actor.system("memberflow"), layout=current.layout)


async def known_templates(session: AsyncSession) -> set[tuple[str, str]]:
    from models import MessageTemplate

    rows = await session.execute(select(MessageTemplate.channel, MessageTemplate.key).distinct())
    return {(row.channel, row.key) for row in rows}


async def check(session: AsyncSession, definition: Definition) -> list[Problem]:
    coupons = set((await session.execute(select(CouponTemplate.code))).scalars().all())
    return validate(
        definition,
        templates=await known_templates(session),
        coupon_templates=coupons,
        fields=await field_use.definitions(session),
        surveys=set((await session.execute(select(Survey.key))).scalars().all()),
    )


def parse(raw: dict[str, Any]) -> Definition:
    """Schema errors as a 422 naming each field, like any other request body."""
    try:
        return Definition.model_validate(raw)
    except ValidationError as exc:
        details = [
            {
                "field": f"body.{error_field(err['loc'])}",
                "message": problem_message(err),
            }
            for err in exc.errors()
        ]
        raise InvalidInput("the journey definition is invalid", code="invalid_definition", details=details) from exc


async def _require_valid(session: AsyncSession, definition: Definition) -> None:
    problems = await check(session, definition)
    if problems:
        raise InvalidInput(
            "the journey definition is invalid",
            code="invalid_definition",
            details=[{"field": f"body.{p.path}", "message": p.message} for p in problems],
        )


async def get_journey(session: AsyncSession, kind: str) -> Journey:
    journey = await session.get(Journey, kind)
    if journey is None:
        raise NotFound(f"no journey {kind!r}", code="journey_not_found")
    return journey


async def get_version(session: AsyncSession, kind: str, version: int | None = None) -> JourneyVersion:
    journey = await get_journey(session, kind)
    wanted = version if version is not None else journey.current_version
    found = await session.get(JourneyVersion, (kind, wanted))
    if found is None:
        raise NotFound(f"journey {kind!r} has no version {wanted}", code="journey_version_not_found")
    return found


async def list_journeys(session: AsyncSession) -> list[Journey]:
    return list((await session.execute(select(Journey).order_by(Journey.kind))).scalars().all())


async def versions(session: AsyncSession, kind: str) -> list[JourneyVersion]:
    stmt = select(JourneyVersion).where(JourneyVersion.kind == kind).order_by(JourneyVersion.version.desc())
    return list((await session.execute(stmt)).scalars().all())


async def _add_first_version(
    session: AsyncSession,
    definition: Definition,
    *,
    author: str,
    builtin: bool,
    layout: dict[str, Any] | None = None,
) -> bool:
    """Insert the journey with its version 1 unless the kind exists; True if it was added."""
    inserted = (
        await session.execute(
            insert(Journey)
            .values(kind=definition.kind, name=definition.name, current_version=1, enabled=True, builtin=builtin)
            .on_conflict_do_nothing(index_elements=["kind"])
            .returning(Journey.kind)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return False
    session.add(
        JourneyVersion(kind=definition.kind, version=1, definition=stored(definition), layout=layout, created_by=author)
    )
    await session.flush()
    return True


async def _audit(session: AsyncSession, actor: Actor, action: str, kind: str, **details: object) -> None:
    await audit.record(
        session, actor, action=f"journey.{action}", target_type="journey", target_id=kind, details=details
    )


async def create(
    session: AsyncSession, definition: Definition, *, actor: Actor, layout: dict[str, Any] | None = None
) -> JourneyVersion:
    """The journey with its first version; `layout` is where the canvas drew its steps (never read by runs)."""
    await _require_valid(session, definition)
    if not await _add_first_version(session, definition, author=actor.name, builtin=False, layout=layout):
        raise Conflict(
            f"a journey {definition.kind!r} exists; publish a new version of it instead", code="journey_exists"
        )
    row = await get_version(session, definition.kind, 1)
    await _audit(session, actor, "create", row.kind, version=row.version)
    return row


async def publish(
    session: AsyncSession,
    kind: str,
    definition: Definition,
    *,
    actor: Actor,
    layout: dict[str, Any] | None = None,
) -> JourneyVersion:
    """A new version becomes current for runs that start from now on; running ones keep theirs. `layout` is
    where the canvas drew the steps, kept beside the version for people (runs never read it)."""
    if definition.kind != kind:
        raise InvalidInput(
            "the definition's kind does not match the URL",
            code="invalid_definition",
            details=[{"field": "body.kind", "message": f"must be {kind!r}"}],
        )
    journey = (
        await session.execute(select(Journey).where(Journey.kind == kind).with_for_update())
    ).scalar_one_or_none()
    if journey is None:
        raise NotFound(f"no journey {kind!r}", code="journey_not_found")
    await _require_valid(session, definition)
    journey.current_version += 1
    journey.name = definition.name
    journey.updated_at = datetime.now(UTC)
    row = JourneyVersion(
        kind=kind,
        version=journey.current_version,
        definition=stored(definition),
        layout=layout,
        created_by=actor.name,
    )
    session.add(row)
    await session.flush()
    await _audit(session, actor, "publish", kind, version=row.version)
    return row


async def set_enabled(session: AsyncSession, kind: str, enabled: bool, *, actor: Actor) -> Journey:
    journey = await get_journey(session, kind)
    journey.enabled = enabled
    journey.updated_at = datetime.now(UTC)
    await session.flush()
    await _audit(session, actor, "enable" if enabled else "disable", kind)
    return journey
