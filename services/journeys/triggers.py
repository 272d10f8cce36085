"""Which journey runs an event starts or wakes, and the daily scan of time-triggered journeys.

Workflow ids come from business ids (`journey-{kind}-{member_id}`), so a duplicate trigger can never start
a second run. Starts and signals go through the outbox, in the transaction of the change that causes them.
This is on every sign-up, order and event, so its statements are few and built once (see `on_event`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from models import Journey, JourneyVersion, Member
from services.journeys.definition import TRIGGER_EVENT_FIELDS, Definition, WaitForStep, evaluate
from services.members import field_use, scans
from services.platform import outbox
from workflows import contracts

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


@dataclass(frozen=True)
class CurrentJourney:
    """A journey as triggers and events need it: its kind, whether it is enabled, its current definition."""

    kind: str
    enabled: bool
    definition: Definition


_CURRENT = select(Journey.kind, Journey.enabled, Journey.current_version).order_by(Journey.kind)
_VERSIONS = select(JourneyVersion.kind, JourneyVersion.version, JourneyVersion.definition).where(
    tuple_(JourneyVersion.kind, JourneyVersion.version).in_(bindparam("keys", expanding=True))
)


async def _current_definitions(session: AsyncSession) -> list[CurrentJourney]:
    """Every journey's current definition: one small query for the current versions; the definitions
    themselves are read only for versions this process has not parsed yet (a published version never changes)."""
    current = (await session.execute(_CURRENT)).all()
    parsed = {(row.kind, row.current_version): _PARSED.get((row.kind, row.current_version)) for row in current}
    missing = [key for key, definition in parsed.items() if definition is None]
    if missing:
        for row in await session.execute(_VERSIONS, {"keys": missing}):
            parsed[(row.kind, row.version)] = parsed_version(row.kind, row.version, row.definition)
    return [
        CurrentJourney(row.kind, row.enabled, definition)
        for row in current
        if (definition := parsed[(row.kind, row.current_version)]) is not None
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


# One statement, its text built once (building the equivalent select() per event was half of `on_event`'s CPU).
_LIVE = text(
    """
    WITH runs AS (
        SELECT workflow_id, bool_or(status = 'running') AS running, max(ended_at) AS ended
        FROM journey_runs WHERE workflow_id = ANY(CAST(:ids AS text[])) GROUP BY workflow_id),
    starts AS (
        SELECT workflow_id, max(created_at) AS queued
        FROM temporal_outbox WHERE workflow_id = ANY(CAST(:ids AS text[])) AND action LIKE 'start%'
        GROUP BY workflow_id)
    SELECT coalesce(runs.workflow_id, starts.workflow_id)
    FROM runs FULL JOIN starts ON runs.workflow_id = starts.workflow_id
    WHERE coalesce(runs.running, false)
       OR (starts.queued IS NOT NULL AND (runs.ended IS NULL OR starts.queued > runs.ended))
    """
)


async def live_kinds(session: AsyncSession, member_id: uuid.UUID, kinds: Iterable[str]) -> set[str]:
    """Of `kinds`, those whose run for the member may be live (under `journey-{kind}-{member}`): one is running,
    or a start was queued after the last run of that id ended (delivered or not, its run may not have recorded its
    first step yet). An event for any other kind would wake nothing, so it costs Temporal nothing."""
    ids = {contracts.journey_workflow_id(kind, member_id): kind for kind in kinds}
    if not ids:
        return set()
    return {ids[workflow_id] for workflow_id in (await session.execute(_LIVE, {"ids": list(ids)})).scalars()}


async def on_event(
    session: AsyncSession,
    member: Member,
    *events: str,
    task_queue: str,
    properties: dict[str, Any] | None = None,
    event_facts: dict[str, Any] | None = None,
) -> list[str]:
    """For each event in turn, tell the member's live runs that listen for it, then start the enabled journeys it
    triggers (unless one of these events would end the new run at once). Returns the kinds started. The
    definitions are read once, and which runs are live once, for all the events. `event_facts` (`event.score`,
    ...) are what a trigger condition may test besides the member's facts (definition.TRIGGER_EVENT_FIELDS)."""
    started: list[str] = []
    commands: list[contracts.WorkflowStart | contracts.WorkflowSignal] = []  # written in one INSERT at the end
    definitions = await _current_definitions(session)
    listening = {j.kind for j in definitions if any(listens(j.definition, e) for e in events)}
    live = await live_kinds(session, member.id, listening)
    facts: dict[str, Any] | None = None  # computed when a trigger condition first needs them
    for event in events:
        for journey in definitions:
            definition = journey.definition
            if journey.kind in live and listens(definition, event):
                happened = contracts.MemberEventSignal(type=event, properties=properties or {})
                commands.append(contracts.member_event_signal(journey.kind, member.id, happened))
            trigger = definition.trigger
            if not journey.enabled or trigger is None or trigger.event != event or exits_at_once(definition, events):
                continue
            if trigger.condition is not None:
                if facts is None:
                    facts = member_facts(member, fields=await fact_fields(session)) | (event_facts or {})
                if not evaluate(trigger.condition, facts):
                    continue
            facts_of_event = trigger_facts(event, properties)
            commands.append(
                _journey_start(journey.kind, member.id, task_queue, definition.reentry, facts=facts_of_event)
            )
            live.add(journey.kind)  # a later event of this call reaches the run just queued
            started.append(journey.kind)
    await outbox.enqueue_all(session, commands)
    return started


def trigger_facts(event: str, properties: dict[str, Any] | None) -> dict[str, str]:
    """What a run started by `event` carries of it: the event's declared trigger fields only (never an id or a
    shop's free-form property), as text."""
    held = properties or {}
    names = (name.removeprefix("event.") for name in TRIGGER_EVENT_FIELDS.get(event, ()))
    return {f"event.{name}": str(held[name]) for name in names if held.get(name) is not None}


def _journey_start(
    kind: str,
    member_id: uuid.UUID,
    task_queue: str,
    reentry: str,
    campaign_id: str | None = None,
    *,
    facts: dict[str, str] | None = None,
) -> contracts.WorkflowStart:
    inp = contracts.JourneyInput(
        member_id=str(member_id), kind=kind, campaign_id=campaign_id, trigger_facts=facts or {}
    )
    return contracts.journey_start(inp, task_queue=task_queue, once=reentry == "never")


async def enqueue_start(
    session: AsyncSession,
    *,
    kind: str,
    member_id: uuid.UUID,
    task_queue: str,
    reentry: str = "never",
    campaign_id: str | None = None,
) -> None:
    await outbox.enqueue_start(session, _journey_start(kind, member_id, task_queue, reentry, campaign_id))


# --- daily scan ------------------------------------------------------------------------------------------


async def scan_due(
    session: AsyncSession, *, today: date, task_queue: str, page_size: int = scans.SCAN_PAGE
) -> dict[str, int]:
    """Start the time-triggered journeys due today: `birthday` (birthday today, or `days` before) and
    `inactive` (last purchase exactly `days` ago, so each silent spell triggers once). Returns the number
    of starts per kind; the starts are deterministic per member, so running the scan twice is harmless."""
    started: dict[str, int] = {}
    fields = await fact_fields(session)
    for journey in await _current_definitions(session):
        definition = journey.definition
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
