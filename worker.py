"""The worker process: runs every workflow and activity, and relays the Temporal outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.approvals import ApprovalActivities
from activities.campaigns import CampaignActivities
from activities.care import CareActivities
from activities.challenges import ChallengeActivities
from activities.checkouts import CheckoutActivities
from activities.imports import ImportActivities
from activities.journeys import JourneyActivities, ScanActivities
from activities.ledger import LedgerActivities
from activities.messaging import MessagingActivities, channel_task_queue
from activities.plans import PlanActivities
from activities.referrals import ReferralActivities
from activities.rules import RuleActivities
from activities.surveys import SurveyActivities
from activities.tiers import TierActivities
from core.db import create_engine, create_session_factory
from core.settings import Settings, WorkerSettings, get_settings
from core.temporal import connect_with_retry, ensure_search_attributes
from services.intake import bootstrap
from services.messaging.providers import build_providers
from services.platform import outbox
from workflows import contracts
from workflows.registry import WORKFLOWS

log = logging.getLogger("memberflow.worker")

RELAY_INTERVAL_SECONDS = 2.0


# A schedule's id is the id of the workflow it starts.
MAINTENANCE_SCHEDULE_ID = contracts.LEDGER_MAINTENANCE_ID
SCAN_SCHEDULE_ID = contracts.JOURNEY_SCAN_ID
RULES_SCAN_SCHEDULE_ID = contracts.RULE_SCAN_ID
CHALLENGE_SCAN_SCHEDULE_ID = contracts.CHALLENGE_SCAN_ID
TIER_REVIEW_SCHEDULE_ID = contracts.TIER_REVIEW_ID


class StartFactory(Protocol):
    def __call__(self, *, task_queue: str) -> contracts.WorkflowStart: ...


@dataclass(frozen=True)
class DailySchedule:
    """One of the worker's daily Temporal Schedules: what it starts, and at what time of day (UTC)."""

    schedule_id: str
    start: StartFactory  # the contract's factory of the start
    at: Callable[[Settings], str]  # "HH:MM" from the settings


def _maintenance_time(settings: Settings) -> str:
    return settings.points.maintenance_time


SCHEDULES = (
    DailySchedule(MAINTENANCE_SCHEDULE_ID, contracts.ledger_maintenance_start, _maintenance_time),
    DailySchedule(SCAN_SCHEDULE_ID, contracts.journey_scan_start, _maintenance_time),
    DailySchedule(RULES_SCAN_SCHEDULE_ID, contracts.rule_scan_start, _maintenance_time),
    DailySchedule(CHALLENGE_SCAN_SCHEDULE_ID, contracts.challenge_scan_start, _maintenance_time),
    DailySchedule(TIER_REVIEW_SCHEDULE_ID, contracts.tier_review_start, _maintenance_time),
)


# Our modules that every run may share: the workflow modules and the contract (constants, pydantic models and
# pure functions, no mutable module state: tests/workflows/test_sandbox.py checks). Activities and services
# are passed through where a workflow imports them (`workflow.unsafe.imports_passed_through`).
SHARED_WORKFLOW_MODULES = ("workflows",)


def workflow_runner(mode: str) -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in. `pass_through` imports the workflow modules once per process
    instead of once per run: with them re-imported, creating a run cost 1.4-3.3 ms and was the worker's
    largest CPU item under load (docs/benchmarks.md). `strict` keeps the SDK's default, which re-imports
    them so its checks also cover their module-level references (the tests run that way)."""
    restrictions = SandboxRestrictions.default
    if mode == "pass_through":
        restrictions = restrictions.with_passthrough_modules(*SHARED_WORKFLOW_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def worker_options(config: WorkerSettings) -> dict[str, Any]:
    """The Worker arguments that `MEMBERFLOW_WORKER__*` sets (docs/scaling.md says how they were chosen)."""
    return {
        "workflow_runner": workflow_runner(config.sandbox),
        "max_cached_workflows": config.max_cached_workflows,
        "max_concurrent_workflow_tasks": config.max_concurrent_workflow_tasks,
        "max_concurrent_activities": config.max_concurrent_activities,
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=config.workflow_task_pollers),
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=config.activity_task_pollers),
    }


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    settings: Settings | None = None,
    **options: Any,
) -> Worker:
    settings = settings or get_settings()
    engine = sessions.kw.get("bind")
    journeys = JourneyActivities(sessions, engine)
    ledger = LedgerActivities(sessions)
    approvals = ApprovalActivities(sessions, build_providers(settings.messaging), settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            *journeys.all(),
            ScanActivities(sessions).daily_scan,
            ledger.expire_due_lots,
            ledger.release_expired_holds,
            *approvals.all(),
            *CampaignActivities(sessions, client).all(),
            *RuleActivities(sessions).all(),
            *ImportActivities(sessions).all(),
            *SurveyActivities(sessions).all(),
            *TierActivities(sessions).all(),
            *ReferralActivities(sessions).all(),
            *PlanActivities(sessions).all(),
            *CareActivities(sessions, settings.care, task_queue).all(),
            *ChallengeActivities(sessions).all(),
            *CheckoutActivities(sessions).all(),
        ],
        **(worker_options(settings.worker) | options),
    )


def build_channel_workers(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> list[Worker]:
    """One worker per message channel, on `{task_queue}-email` and `{task_queue}-sms`, running only
    `messaging.send`: the task queue's rate limit is the provider's (settings.messaging.*_rate_per_second)."""
    messages = MessagingActivities(sessions, build_providers(settings.messaging), settings)
    rates = {"email": settings.messaging.email_rate_per_second, "sms": settings.messaging.sms_rate_per_second}
    return [
        Worker(
            client,
            task_queue=channel_task_queue(settings.temporal.task_queue, channel),
            activities=[messages.send],
            max_task_queue_activities_per_second=rate,
        )
        for channel, rate in rates.items()
    ]


@contextlib.asynccontextmanager
async def _running(workers: list[Worker]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for running in workers:
            await stack.enter_async_context(running)
        yield


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create (or bring up to date) the daily schedules of SCHEDULES: ledger maintenance, the journey and rule
    scans, the tier review. Each skips a run while the previous one still runs."""
    for daily in SCHEDULES:
        hour, minute = (int(part) for part in daily.at(settings).split(":"))
        schedule = Schedule(
            action=daily.start(task_queue=settings.temporal.task_queue).schedule_action(),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        try:
            await client.create_schedule(daily.schedule_id, schedule)
            log.info("created schedule %s (daily at %s UTC)", daily.schedule_id, daily.at(settings))
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(daily.schedule_id).update(_replace_with(schedule))


def _replace_with(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    return update


async def relay_outbox(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    stop: asyncio.Event,
    interval: float = RELAY_INTERVAL_SECONDS,
) -> None:
    """Deliver outbox rows the API could not (Temporal was down, or the API died after commit)."""
    while not stop.is_set():
        try:
            while await outbox.dispatch(sessions, client) > 0:
                pass
        except Exception:  # noqa: BLE001 - the relay must outlive a database or Temporal outage
            log.exception("outbox relay pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_with_retry(settings.temporal, timeout=120)
    added = await ensure_search_attributes(client, contracts.SEARCH_ATTRIBUTES)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    await ensure_schedules(client, settings)
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await bootstrap.seed(session)
        await session.commit()
    worker = build_worker(client, sessions, settings.temporal.task_queue, settings)
    relay = asyncio.create_task(relay_outbox(sessions, client, stop))
    try:
        async with worker, _running(build_channel_workers(client, sessions, settings)):
            log.info("worker polling task queue %r on %s", settings.temporal.task_queue, settings.temporal.address)
            await stop.wait()
            log.info("worker stopping")
    finally:
        stop.set()
        await relay
        await engine.dispose()
