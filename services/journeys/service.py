"""Member journeys: versioned definitions, which run starts for which event, and where each run is.

Workflow ids come from business ids (`journey-{kind}-{member_id}`), so a duplicate trigger can never start
a second run. Starts and signals go through the outbox, in the transaction of the change that causes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import CouponTemplate, Journey, JourneyRun, JourneyVersion, Member, TemporalOutbox
from services.definitions import Problem
from services.journeys.builtins import BUILTIN_COUPONS, BUILTIN_JOURNEYS, SHIPPED_BEFORE
from services.journeys.definition import Definition, WaitForStep, error_field, evaluate, stored
from services.journeys.validation import validate
from services.members import field_use, scans
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows import contracts

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
    )


def parse(raw: dict[str, Any]) -> Definition:
    """Schema errors as a 422 naming each field, like any other request body."""
    try:
        return Definition.model_validate(raw)
    except ValidationError as exc:
        details = [
            {
                "field": f"body.{error_field(err['loc'])}",
                "message": err["msg"].removeprefix("Value error, "),
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


# --- triggers and events ---------------------------------------------------------------------------------


async def fact_fields(session: AsyncSession) -> list[str]:
    """The custom fields journey conditions may test: the defined ones that hold no personal data."""
    return field_use.fact_keys((await field_use.definitions(session)).values(), personal=False)


def member_facts(member: Member, *, today: date | None = None, fields: Iterable[str] = ()) -> dict[str, Any]:
    """What conditions may test (services.journeys.definition.CONDITION_FIELDS, and `attributes.<key>` of the
    custom `fields` given, which journeys take from `fact_fields`); no personal data."""
    today = today or datetime.now(UTC).date()
    return field_use.attribute_facts(member.attributes, fields) | {
        "tier": member.tier,
        "tags": list(member.tags or []),
        "lifetime_spend": float(member.lifetime_spend),
        "order_count": member.order_count,
        "days_since_last_purchase": (today - member.last_purchase_at.date()).days if member.last_purchase_at else None,
        "days_since_signup": (today - member.created_at.date()).days if member.created_at else 0,
        "consent.email": member.consent_email,
        "consent.sms": member.consent_sms,
        "locale": member.locale,
    }


# Parsed definitions by (kind, version): a published version never changes, so each is parsed once per process
# rather than on every event (profiles of event ingest showed the parsing at 7-11% of samples).
_PARSED: dict[tuple[str, int], Definition] = {}
_PARSED_LIMIT = 1024


def parsed_version(kind: str, version: int, raw: dict[str, Any]) -> Definition:
    """The definition of a published version, parsed once; callers must not change it."""
    key = (kind, version)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        found = _PARSED[key] = Definition.model_validate(raw)
    return found


async def _current_definitions(session: AsyncSession) -> list[tuple[Journey, Definition]]:
    rows = await session.execute(
        select(Journey, JourneyVersion).join(
            JourneyVersion, (JourneyVersion.kind == Journey.kind) & (JourneyVersion.version == Journey.current_version)
        )
    )
    return [
        (journey, parsed_version(version.kind, version.version, version.definition)) for journey, version in rows.all()
    ]


def listens(definition: Definition, event: str) -> bool:
    """A run of this definition acts on the event: it waits for it somewhere or exits on it."""
    return event in definition.exit_on or any(
        isinstance(step, WaitForStep) and step.wait_for.event == event for step in definition.steps
    )


def exits_at_once(definition: Definition, events: Iterable[str]) -> bool:
    """A run started now would end before its first step: one of the events that start it is an exit event that
    applies from the start."""
    return definition.exit_from is None and any(event in definition.exit_on for event in events)


async def live_kinds(session: AsyncSession, member_id: uuid.UUID, kinds: Iterable[str]) -> set[str]:
    """Of `kinds`, those whose run for the member may be live (under `journey-{kind}-{member}`): one is running,
    or a start was queued after the last run of that id ended (delivered or not, its run may not have recorded its
    first step yet). An event for any other kind would wake nothing, so it costs Temporal nothing."""
    ids = {contracts.journey_workflow_id(kind, member_id): kind for kind in kinds}
    if not ids:
        return set()
    runs = (
        select(
            JourneyRun.workflow_id,
            func.bool_or(JourneyRun.status == "running").label("running"),
            func.max(JourneyRun.ended_at).label("ended"),
        )
        .where(JourneyRun.workflow_id.in_(ids))
        .group_by(JourneyRun.workflow_id)
        .subquery()
    )
    starts = (
        select(TemporalOutbox.workflow_id, func.max(TemporalOutbox.created_at).label("queued"))
        .where(TemporalOutbox.workflow_id.in_(ids), TemporalOutbox.action.like("start%"))
        .group_by(TemporalOutbox.workflow_id)
        .subquery()
    )
    live = (
        select(func.coalesce(runs.c.workflow_id, starts.c.workflow_id))
        .select_from(runs.join(starts, runs.c.workflow_id == starts.c.workflow_id, full=True))
        .where(
            func.coalesce(runs.c.running, False)
            | (starts.c.queued.is_not(None) & ((runs.c.ended.is_(None)) | (starts.c.queued > runs.c.ended)))
        )
    )
    return {ids[workflow_id] for workflow_id in (await session.execute(live)).scalars()}


async def on_event(
    session: AsyncSession,
    member: Member,
    *events: str,
    task_queue: str,
    properties: dict[str, Any] | None = None,
) -> list[str]:
    """For each event in turn, tell the member's live runs that listen for it, then start the enabled journeys it
    triggers (unless one of these events would end the new run at once). Returns the kinds started. The
    definitions are read once, and which runs are live once, for all the events."""
    started: list[str] = []
    definitions = await _current_definitions(session)
    listening = {journey.kind for journey, definition in definitions if any(listens(definition, e) for e in events)}
    live = await live_kinds(session, member.id, listening)
    facts: dict[str, Any] | None = None  # computed when a trigger condition first needs them
    for event in events:
        for journey, definition in definitions:
            if journey.kind in live and listens(definition, event):
                happened = contracts.MemberEventSignal(type=event, properties=properties or {})
                await outbox.enqueue_signal(session, contracts.member_event_signal(journey.kind, member.id, happened))
            trigger = definition.trigger
            if not journey.enabled or trigger is None or trigger.event != event or exits_at_once(definition, events):
                continue
            if trigger.condition is not None:
                if facts is None:
                    facts = member_facts(member, fields=await fact_fields(session))
                if not evaluate(trigger.condition, facts):
                    continue
            await enqueue_start(
                session, kind=journey.kind, member_id=member.id, task_queue=task_queue, reentry=definition.reentry
            )
            live.add(journey.kind)  # a later event of this call reaches the run just queued
            started.append(journey.kind)
    return started


async def enqueue_start(
    session: AsyncSession,
    *,
    kind: str,
    member_id: uuid.UUID,
    task_queue: str,
    reentry: str = "never",
    campaign_id: str | None = None,
) -> None:
    inp = contracts.JourneyInput(member_id=str(member_id), kind=kind, campaign_id=campaign_id)
    await outbox.enqueue_start(session, contracts.journey_start(inp, task_queue=task_queue, once=reentry == "never"))


# --- daily scan ------------------------------------------------------------------------------------------


async def scan_due(
    session: AsyncSession, *, today: date, task_queue: str, page_size: int = scans.SCAN_PAGE
) -> dict[str, int]:
    """Start the time-triggered journeys due today: `birthday` (birthday today, or `days` before) and
    `inactive` (last purchase exactly `days` ago, so each silent spell triggers once). Returns the number
    of starts per kind; the starts are deterministic per member, so running the scan twice is harmless."""
    started: dict[str, int] = {}
    fields = await fact_fields(session)
    for journey, definition in await _current_definitions(session):
        trigger = definition.trigger
        if not journey.enabled or trigger is None or trigger.event not in ("birthday", "inactive"):
            continue
        days = trigger.days or 0
        where: ColumnElement[bool]
        if trigger.event == "birthday":
            where = scans.birthday_on(today + timedelta(days=days))
        else:
            where = scans.last_purchase_on(today - timedelta(days=days or 30))
        count = 0
        async for page in scans.pages_of(session, where, page_size=page_size):
            for member in page:
                if trigger.condition is not None and not evaluate(
                    trigger.condition, member_facts(member, today=today, fields=fields)
                ):
                    continue
                await enqueue_start(
                    session, kind=journey.kind, member_id=member.id, task_queue=task_queue, reentry=definition.reentry
                )
                count += 1
        started[journey.kind] = count
    return started
