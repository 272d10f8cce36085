"""The worker process: runs every workflow and activity, and relays the Temporal outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.worker import Worker

from activities.journeys import JourneyActivities
from activities.ledger import LedgerActivities
from core.db import create_engine, create_session_factory
from core.settings import Settings
from core.temporal import connect_with_retry, ensure_search_attributes
from services import outbox
from workflows import WORKFLOWS
from workflows.ledger_maintenance import LedgerMaintenanceWorkflow, MaintenanceInput

log = logging.getLogger("memberflow.worker")

RELAY_INTERVAL_SECONDS = 2.0


MAINTENANCE_SCHEDULE_ID = "ledger-maintenance"


def build_worker(client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str) -> Worker:
    journeys = JourneyActivities(sessions)
    ledger = LedgerActivities(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[journeys.member_facts, ledger.expire_due_lots, ledger.release_expired_holds],
    )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create (or bring up to date) the daily ledger maintenance schedule."""
    hour, minute = (int(part) for part in settings.points.maintenance_time.split(":"))
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            LedgerMaintenanceWorkflow.run,
            MaintenanceInput(),
            id=MAINTENANCE_SCHEDULE_ID,
            task_queue=settings.temporal.task_queue,
        ),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(MAINTENANCE_SCHEDULE_ID, schedule)
        log.info("created schedule %s (daily at %s UTC)", MAINTENANCE_SCHEDULE_ID, settings.points.maintenance_time)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(MAINTENANCE_SCHEDULE_ID).update(lambda _: ScheduleUpdate(schedule=schedule))


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
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    await ensure_schedules(client, settings)
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    worker = build_worker(client, sessions, settings.temporal.task_queue)
    relay = asyncio.create_task(relay_outbox(sessions, client, stop))
    try:
        async with worker:
            log.info("worker polling task queue %r on %s", settings.temporal.task_queue, settings.temporal.address)
            await stop.wait()
            log.info("worker stopping")
    finally:
        stop.set()
        await relay
        await engine.dispose()
