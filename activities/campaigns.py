"""Activities of the campaign workflow: snapshot, pages, enrolment (client starts of journeys with bounded
concurrency), cancellation of the journeys it started, and the campaign's recurring Temporal Schedule."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError
from services import campaigns
from services.campaigns import enrolment
from workflows import contracts
from workflows.contracts import Counts

# Temporal answers these while it is briefly unreachable or overloaded: the page is retried, not failed.
TRANSIENT = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED})


class CampaignRef(BaseModel):
    campaign_id: str


class CampaignState(BaseModel):
    """What the workflow needs to know of the campaign row (no personal data)."""

    status: str
    start_at: datetime | None
    recurring: bool
    cancel_journeys: bool


class Snapshotted(BaseModel):
    added: int
    counts: Counts
    status: str


class PageInput(BaseModel):
    campaign_id: str
    after: str | None
    limit: int


class Page(BaseModel):
    member_ids: list[str]


class EnrollInput(BaseModel):
    campaign_id: str
    member_ids: list[str]
    task_queue: str
    concurrency: int


class Enrolled(BaseModel):
    started: int
    already_started: int
    skipped: int
    failed: int
    counts: Counts
    # The status the marketer last set (paused, cancelled …): how scheduled runs, which get no signals, obey.
    status: str
    # False: the page was left pending (the campaign was paused or cancelled meanwhile).
    done: bool = True


class CancelInput(BaseModel):
    campaign_id: str
    concurrency: int = 20
    page_size: int = 500


class Cancelled(BaseModel):
    members_cancelled: int
    journeys_cancelled: int


class ScheduleInput(BaseModel):
    campaign_id: str
    task_queue: str
    # The scheduled runs enrol with the same tuning as the run that created the schedule.
    tuning: dict[str, int] = {}


class FinishInput(BaseModel):
    campaign_id: str
    counts: Counts


class FailInput(BaseModel):
    campaign_id: str
    error: str


def _counts(progress: campaigns.Progress) -> Counts:
    return Counts.model_validate(progress.as_dict())


def _business(exc: AppError) -> ApplicationError:
    return ApplicationError(exc.message, type=exc.code, non_retryable=True)


class CampaignActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name="campaign.state")
    async def state(self, inp: CampaignRef) -> CampaignState:
        async with self._sessions() as session:
            try:
                campaign = await campaigns.get(session, uuid.UUID(inp.campaign_id))
            except AppError as exc:
                raise _business(exc) from exc
        return CampaignState(
            status=campaign.status,
            start_at=campaign.start_at,
            recurring=campaign.recurrence is not None,
            cancel_journeys=campaign.cancel_journeys,
        )

    @activity.defn(name="campaign.snapshot")
    async def snapshot(self, inp: CampaignRef) -> Snapshotted:
        campaign_id = uuid.UUID(inp.campaign_id)
        async with self._sessions() as session:
            try:
                added = await enrolment.snapshot(session, campaign_id)
                campaign = await campaigns.mark_started(session, campaign_id)
            except AppError as exc:
                raise _business(exc) from exc
            counts = _counts(await campaigns.progress(session, campaign_id))
            status = campaign.status
            await session.commit()
        return Snapshotted(added=added, counts=counts, status=status)

    @activity.defn(name="campaign.next_page")
    async def next_page(self, inp: PageInput) -> Page:
        async with self._sessions() as session:
            ids = await enrolment.pending_page(
                session,
                uuid.UUID(inp.campaign_id),
                after=uuid.UUID(inp.after) if inp.after else None,
                limit=inp.limit,
            )
        return Page(member_ids=[str(member_id) for member_id in ids])

    @activity.defn(name="campaign.enroll")
    async def enroll(self, inp: EnrollInput) -> Enrolled:
        """Screen the page, start a journey for each member that passes (deterministic id, never a second
        run), then settle the page in one transaction. A retry after a crash re-screens what is still pending;
        a start that already happened answers 'already started' and counts as enrolled."""
        campaign_id = uuid.UUID(inp.campaign_id)
        async with self._sessions() as session:
            campaign = await campaigns.get(session, campaign_id)
            if campaign.status in ("paused", "cancelled"):
                # Asked to stop since the page was read: leave it pending, the workflow obeys the status.
                counts = _counts(await campaigns.progress(session, campaign_id))
                return Enrolled(
                    started=0, already_started=0, skipped=0, failed=0, counts=counts, status=campaign.status, done=False
                )
            plan = await enrolment.screen(session, campaign, [uuid.UUID(m) for m in inp.member_ids])
            skipped = await enrolment.mark_skipped(session, campaign_id, plan.skip)
            kind, version = campaign.journey_kind, campaign.journey_version
            await session.commit()
        gate = asyncio.Semaphore(max(1, inp.concurrency))
        outcome: dict[uuid.UUID, str | None] = {}
        already = 0

        async def start_one(member_id: uuid.UUID) -> None:
            nonlocal already
            async with gate:
                try:
                    await self._start_journey(inp, member_id, kind, version)
                except WorkflowAlreadyStartedError:
                    already += 1
                except RPCError as exc:
                    if exc.status in TRANSIENT:
                        raise
                    outcome[member_id] = f"{exc.status.name if exc.status else 'error'}: {exc.message}"
                    return
                outcome[member_id] = None
                activity.heartbeat(len(outcome))

        await asyncio.gather(*(start_one(member_id) for member_id in plan.enroll))
        ok = [member_id for member_id, error in outcome.items() if error is None]
        errors = {member_id: error for member_id, error in outcome.items() if error is not None}
        async with self._sessions() as session:
            await enrolment.mark_enrolled(session, campaign_id, ok)
            failed = await enrolment.mark_failed(session, campaign_id, errors)
            counts = _counts(await campaigns.progress(session, campaign_id))
            status = await campaigns.record_counters(session, campaign_id, counts.model_dump())
            await session.commit()
        return Enrolled(
            started=len(ok) - already,
            already_started=already,
            skipped=skipped,
            failed=failed,
            counts=counts,
            status=status,
        )

    async def _start_journey(self, inp: EnrollInput, member_id: uuid.UUID, kind: str, version: int) -> None:
        journey = contracts.JourneyInput(
            member_id=str(member_id), kind=kind, campaign_id=inp.campaign_id, version=version
        )
        # Once: a member a campaign enrolled is never enrolled by it again, even after the journey ended.
        await contracts.journey_start(journey, task_queue=inp.task_queue, once=True).start(self._client)

    @activity.defn(name="campaign.cancel")
    async def cancel(self, inp: CancelInput) -> Cancelled:
        """Pending members become cancelled; if the marketer asked for it, every journey the campaign started is
        cancelled too, page by page (the heartbeat carries the last member, so a retry resumes there)."""
        campaign_id = uuid.UUID(inp.campaign_id)
        async with self._sessions() as session:
            members_cancelled = await enrolment.cancel_pending(session, campaign_id)
            cancel_journeys = (await campaigns.get(session, campaign_id)).cancel_journeys
            await session.commit()
        await self._delete_schedule(inp.campaign_id)
        if not cancel_journeys:
            return Cancelled(members_cancelled=members_cancelled, journeys_cancelled=0)
        details = activity.info().heartbeat_details
        after = uuid.UUID(str(details[0])) if details else None
        done = int(details[1]) if len(details) > 1 else 0
        gate = asyncio.Semaphore(max(1, inp.concurrency))

        async def cancel_one(member_id: uuid.UUID) -> int:
            async with gate:
                handle: Any = self._client.get_workflow_handle(
                    contracts.campaign_member_workflow_id(inp.campaign_id, member_id)
                )
                try:
                    await handle.cancel()
                except RPCError as exc:
                    if exc.status != RPCStatusCode.NOT_FOUND:
                        raise
                    return 0  # it had already ended
                return 1

        while True:
            async with self._sessions() as session:
                page = await enrolment.enrolled_page(session, campaign_id, after=after, limit=inp.page_size)
            if not page:
                break
            done += sum(await asyncio.gather(*(cancel_one(member_id) for member_id in page)))
            after = page[-1]
            activity.heartbeat(str(after), done)
        return Cancelled(members_cancelled=members_cancelled, journeys_cancelled=done)

    async def _delete_schedule(self, campaign_id: str) -> None:
        try:
            await self._client.get_schedule_handle(contracts.campaign_schedule_id(campaign_id)).delete()
        except RPCError as exc:
            if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNIMPLEMENTED):
                raise

    @activity.defn(name="campaign.ensure_schedule")
    async def ensure_schedule(self, inp: ScheduleInput) -> str:
        """The recurring runs: a Temporal Schedule starting this workflow (as a scheduled run) on the
        campaign's interval or cron, never two at once."""
        async with self._sessions() as session:
            campaign = await campaigns.get(session, uuid.UUID(inp.campaign_id))
        if campaign.recurrence is None:
            raise ApplicationError("the campaign does not recur", type="not_recurring", non_retryable=True)
        recurrence = campaigns.Recurrence.model_validate(campaign.recurrence)
        spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=recurrence.every.interval)] if recurrence.every else [],
            cron_expressions=[recurrence.cron] if recurrence.cron else [],
            start_at=campaign.start_at,
        )
        run = contracts.CampaignInput.model_validate(
            {"campaign_id": inp.campaign_id, "task_queue": inp.task_queue, "scheduled": True, **inp.tuning}
        )
        schedule = Schedule(
            action=contracts.campaign_start(run, task_queue=inp.task_queue).schedule_action(),
            spec=spec,
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        schedule_id = contracts.campaign_schedule_id(inp.campaign_id)
        try:
            await self._client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            pass  # created by an earlier attempt or run
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise ApplicationError(exc.message, type="invalid_schedule", non_retryable=True) from exc
            raise
        return schedule_id

    @activity.defn(name="campaign.finish")
    async def finish(self, inp: FinishInput) -> str:
        async with self._sessions() as session:
            status = await campaigns.finish(session, uuid.UUID(inp.campaign_id), counters=inp.counts.model_dump())
            await session.commit()
        return status

    @activity.defn(name="campaign.fail")
    async def fail(self, inp: FailInput) -> None:
        async with self._sessions() as session:
            await campaigns.fail(session, uuid.UUID(inp.campaign_id), error=inp.error)
            await session.commit()

    def all(self) -> list[Any]:
        return [
            self.state,
            self.snapshot,
            self.next_page,
            self.enroll,
            self.cancel,
            self.ensure_schedule,
            self.finish,
            self.fail,
        ]
