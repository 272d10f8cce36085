"""Campaigns: create and validate, lifecycle transitions (asked for through the API, and lived by the workflow),
progress. The snapshot and the members' statuses are in services.campaigns.enrolment, results in
services.campaigns.report.

The database is the authority on who is enrolled: a member moves out of `pending` exactly once (conditional
updates), and the journey it starts has the deterministic id `campaign-{campaign_id}-{member_id}`, so neither a
second start of the campaign nor a worker that dies mid-page can enrol anyone twice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, Conflict, InvalidInput, NotFound
from models import Campaign, Journey
from services import journeys, segments
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows import contracts

SKIP_REASONS = ("no_consent", "already_in_journey", "send_cap")
# Statuses a marketer's action may move from, per action (anything else is a 409).
_PAUSABLE = ("scheduled", "running")
_CANCELLABLE = ("draft", "scheduled", "running", "paused")
_ACTIVE = ("scheduled", "running", "paused")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/\-?]+$")


# --- definitions -----------------------------------------------------------------------------------------


class Every(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=0, ge=0, le=366)
    hours: int = Field(default=0, ge=0, le=24 * 366)
    minutes: int = Field(default=0, ge=0, le=60 * 24 * 366)

    @property
    def interval(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    @model_validator(mode="after")
    def _at_least_an_hour(self) -> Every:
        if self.interval < timedelta(hours=1):
            raise ValueError("a recurring campaign runs at most once an hour")
        return self


class Recurrence(BaseModel):
    """Run again on a Temporal Schedule: every interval, or on a cron calendar (UTC)."""

    model_config = ConfigDict(extra="forbid")

    every: Every | None = None
    cron: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Recurrence:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of `every` or `cron`")
        if self.cron is not None:
            parts = self.cron.split()
            if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
                raise ValueError("cron is five fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * 1'")
        return self


class CampaignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    segment_id: uuid.UUID
    journey_kind: Annotated[str, StringConstraints(max_length=64)]
    # None: the journey's current version, pinned now.
    journey_version: int | None = Field(default=None, ge=1, le=1_000_000)
    start_at: AwareDatetime | None = None
    recurrence: Recurrence | None = None
    holdout_percent: int = Field(default=0, ge=0, le=50)
    send_cap: int | None = Field(default=None, ge=1, le=100_000_000)
    attribution_days: int = Field(default=7, ge=1, le=90)


def _invalid(field_path: str, message: str, code: str = "invalid_campaign") -> InvalidInput:
    return InvalidInput(message, code=code, details=[{"field": f"body.{field_path}", "message": message}])


async def _audit(session: AsyncSession, actor: Actor, action: str, campaign: Campaign, **details: object) -> None:
    await audit.record(
        session,
        actor,
        action=f"campaign.{action}",
        target_type="campaign",
        target_id=str(campaign.id),
        details={"status": campaign.status, **details},
    )


async def create(
    session: AsyncSession,
    spec: CampaignSpec,
    *,
    actor: Actor,
    start_in: str | None = None,
    tuning: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Validate against what exists (segment, journey and version, schedule) and save a draft; with
    `start_in` (a task queue), start it at once, as one audited action."""
    now = now or datetime.now(UTC)
    try:
        segment = await segments.get(session, spec.segment_id)
    except AppError as exc:
        raise _invalid("segment_id", f"no segment {spec.segment_id}") from exc
    journey = await session.get(Journey, spec.journey_kind)
    if journey is None:
        raise _invalid("journey_kind", f"no journey {spec.journey_kind!r}")
    if not journey.enabled:
        raise _invalid("journey_kind", f"the journey {spec.journey_kind!r} is disabled")
    version = spec.journey_version or journey.current_version
    try:
        await journeys.get_version(session, spec.journey_kind, version)
    except AppError as exc:
        raise _invalid("journey_version", f"journey {spec.journey_kind!r} has no version {version}") from exc
    if spec.start_at is not None:
        if spec.start_at < now - timedelta(minutes=5):
            raise _invalid("start_at", "start_at is in the past")
        if spec.start_at > now + timedelta(days=366):
            raise _invalid("start_at", "start_at is more than a year away")
    campaign = Campaign(
        name=spec.name,
        segment_id=segment.id,
        segment_definition=segment.definition,
        journey_kind=spec.journey_kind,
        journey_version=version,
        start_at=spec.start_at,
        recurrence=spec.recurrence.model_dump(exclude_none=True) if spec.recurrence else None,
        holdout_percent=spec.holdout_percent,
        send_cap=spec.send_cap,
        attribution_days=spec.attribution_days,
        status="draft",
        counters={},
        runs=0,
        created_by=actor.name,
    )
    session.add(campaign)
    await session.flush()
    if start_in is not None:
        await _start(session, campaign, task_queue=start_in, tuning=tuning)
    await _audit(session, actor, "create", campaign, start=start_in is not None)
    return campaign


async def get(session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False) -> Campaign:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no campaign {campaign_id}", code="campaign_not_found")
    return found


async def listing(session: AsyncSession, *, status: str | None, limit: int, after: uuid.UUID | None) -> list[Campaign]:
    """Newest first; `after` is the last id of the previous page (ids are time-ordered)."""
    stmt = select(Campaign)
    if status:
        stmt = stmt.where(Campaign.status == status)
    if after:
        stmt = stmt.where(Campaign.id < after)
    return list((await session.execute(stmt.order_by(Campaign.id.desc()).limit(limit))).scalars().all())


async def using_segments(session: AsyncSession, segment_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Campaign]]:
    """The campaigns that refer to each of these segments (the ones that keep it from being deleted), newest
    first; segments no campaign uses are left out."""
    if not segment_ids:
        return {}
    stmt = select(Campaign).where(Campaign.segment_id.in_(segment_ids)).order_by(Campaign.id.desc())
    found: dict[uuid.UUID, list[Campaign]] = {}
    for campaign in (await session.execute(stmt)).scalars():
        found.setdefault(campaign.segment_id, []).append(campaign)
    return found


# --- lifecycle requested through the API -------------------------------------------------------------------


def _illegal(campaign: Campaign, action: str) -> Conflict:
    return Conflict(
        f"cannot {action} a campaign that is {campaign.status}",
        code="illegal_transition",
        details={"status": campaign.status, "action": action},
    )


async def _enqueue_run(
    session: AsyncSession, campaign: Campaign, task_queue: str, tuning: Mapping[str, int] | None
) -> None:
    """Through the outbox, in the transaction that changed the status: a committed start always happens.
    The id is the campaign's, so a start while a run is going finds that run instead of a second one."""
    run = contracts.CampaignInput.model_validate(
        {"campaign_id": str(campaign.id), "task_queue": task_queue, **(tuning or {})}
    )
    await outbox.enqueue_start(
        session,
        contracts.campaign_start(run, task_queue=task_queue),
        # Only called when no run should be going: one still open is the previous run closing after its last
        # page, and this start must wait for it rather than be taken as already done.
        after_previous=True,
    )


async def start(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    actor: Actor,
    task_queue: str,
    tuning: Mapping[str, int] | None = None,
) -> tuple[Campaign, bool]:
    """Start (or re-run) the campaign; returns (campaign, whether a run was requested). Starting an active
    campaign changes nothing: it is the same run. A completed one runs again over a fresh snapshot, and only
    members never enrolled before are enrolled."""
    campaign = await get(session, campaign_id, for_update=True)
    requested = await _start(session, campaign, task_queue=task_queue, tuning=tuning)
    await _audit(session, actor, "start", campaign)
    return campaign, requested


async def _start(
    session: AsyncSession, campaign: Campaign, *, task_queue: str, tuning: Mapping[str, int] | None
) -> bool:
    if campaign.status in _ACTIVE:
        return False
    if campaign.status == "cancelled":
        raise _illegal(campaign, "start")
    now = datetime.now(UTC)
    waits = campaign.recurrence is not None or (campaign.start_at is not None and campaign.start_at > now)
    campaign.status = "scheduled" if waits else "running"
    campaign.finished_at = None
    campaign.last_error = None
    await _enqueue_run(session, campaign, task_queue, tuning)
    await session.flush()
    return True


async def pause(session: AsyncSession, campaign_id: uuid.UUID, *, actor: Actor) -> Campaign:
    campaign = await get(session, campaign_id, for_update=True)
    if campaign.status != "paused":
        if campaign.status not in _PAUSABLE:
            raise _illegal(campaign, "pause")
        campaign.status = "paused"
        await outbox.enqueue_signal(session, contracts.campaign_signal(campaign.id, "pause"))
        await session.flush()
    await _audit(session, actor, "pause", campaign)
    return campaign


async def resume(session: AsyncSession, campaign_id: uuid.UUID, *, actor: Actor) -> Campaign:
    campaign = await get(session, campaign_id, for_update=True)
    if campaign.status not in ("running", "scheduled"):
        if campaign.status != "paused":
            raise _illegal(campaign, "resume")
        # Back to where it was: still waiting for its start or schedule, or enrolling.
        campaign.status = "running" if campaign.started_at is not None and campaign.recurrence is None else "scheduled"
        await outbox.enqueue_signal(session, contracts.campaign_signal(campaign.id, "resume"))
        await session.flush()
    await _audit(session, actor, "resume", campaign)
    return campaign


async def cancel(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    actor: Actor,
    cancel_journeys: bool,
    task_queue: str,
    tuning: Mapping[str, int] | None = None,
) -> Campaign:
    """Stop enrolling; pending members become `cancelled` (done by the workflow, which also cancels the
    journeys it started when asked). A draft never started is cancelled here and now."""
    campaign = await get(session, campaign_id, for_update=True)
    if campaign.status != "cancelled":
        await _cancel(session, campaign, cancel_journeys=cancel_journeys, task_queue=task_queue, tuning=tuning)
    await _audit(session, actor, "cancel", campaign, cancel_journeys=cancel_journeys)
    return campaign


async def _cancel(
    session: AsyncSession,
    campaign: Campaign,
    *,
    cancel_journeys: bool,
    task_queue: str,
    tuning: Mapping[str, int] | None,
) -> None:
    if campaign.status not in _CANCELLABLE and not (cancel_journeys and campaign.status == "completed"):
        raise _illegal(campaign, "cancel")
    was = campaign.status
    campaign.status = "cancelled"
    campaign.cancel_journeys = cancel_journeys
    campaign.finished_at = datetime.now(UTC)
    if was != "draft":
        # The running workflow stops at its next page; when none runs (between runs of a recurring campaign,
        # or after it completed), the start begins one that only cleans up. One of the two is a no-op.
        await outbox.enqueue_signal(
            session, contracts.campaign_signal(campaign.id, "cancel", cancel_journeys=cancel_journeys)
        )
        await _enqueue_run(session, campaign, task_queue, tuning)
    await session.flush()


# --- lifecycle as the workflow lives it ------------------------------------------------------------------


async def mark_started(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    """The run begins enrolling: scheduled → running (a pause or cancel in the meantime stays)."""
    campaign = await get(session, campaign_id, for_update=True)
    if campaign.status in ("scheduled", "running"):
        campaign.status = "running"
    campaign.started_at = campaign.started_at or datetime.now(UTC)
    campaign.runs += 1
    await session.flush()
    return campaign


async def finish(session: AsyncSession, campaign_id: uuid.UUID, *, counters: dict[str, Any]) -> str:
    """The run enrolled everyone it could: completed (a recurring campaign waits for its next run)."""
    campaign = await get(session, campaign_id, for_update=True)
    campaign.counters = counters
    if campaign.status in ("running", "paused", "scheduled"):
        campaign.status = "scheduled" if campaign.recurrence is not None else "completed"
        campaign.finished_at = datetime.now(UTC)
    await session.flush()
    return campaign.status


async def fail(session: AsyncSession, campaign_id: uuid.UUID, *, error: str) -> None:
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.not_in(("cancelled", "completed")))
        .values(status="failed", last_error=error[:2000], finished_at=func.now())
    )


async def record_counters(session: AsyncSession, campaign_id: uuid.UUID, counters: dict[str, Any]) -> str:
    """Keep the latest progress on the row (for listings); returns the status the marketer last set."""
    status = (
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(counters=counters).returning(Campaign.status)
        )
    ).scalar_one()
    return str(status)
