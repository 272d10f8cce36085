"""The daily ledger maintenance runs from a Temporal Schedule (on a real dev server: the time-skipping
test server has no schedules) and expires due lots and releases stale holds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.loyalty import ledger
from tests.support.ledger import assert_ledger_ok, balance, earn, new_member
from worker import MAINTENANCE_SCHEDULE_ID, build_worker, ensure_schedules


async def test_schedule_is_created_idempotently_and_its_run_expires_lots_and_releases_holds(
    temporal_dev: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    task_queue: str,
) -> None:
    client = temporal_dev.client
    await ensure_schedules(client, settings)
    await ensure_schedules(client, settings)  # a second worker start updates, never duplicates
    handle = client.get_schedule_handle(MAINTENANCE_SCHEDULE_ID)
    description = await handle.describe()
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.task_queue == task_queue
    calendar = description.schedule.spec.calendars[0]
    assert (calendar.hour[0].start, calendar.minute[0].start) == (2, 0)

    member = await new_member(sessions)
    await earn(sessions, member, 40, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    await earn(sessions, member, 60)
    hold_id = uuid.uuid4()
    async with sessions() as session:
        await ledger.hold(
            session,
            member_id=member,
            points=50,
            reason="stale",
            idempotency_key=f"sh-{hold_id}",
            hold_id=hold_id,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        await session.commit()

    async with build_worker(client, sessions, task_queue):
        await handle.trigger()
        for _ in range(200):
            async with sessions() as session:
                hold = await ledger.get_hold(session, hold_id)
            if hold.status != "pending":
                break
            await asyncio.sleep(0.1)
    # The hold took 40 from the due lot and 10 from the fresh one: the sweep expired none of the reserved
    # points, then released the hold (its 40 return to the due lot, to expire on the next run).
    assert hold.status == "expired"
    assert await balance(sessions, member) == ledger.Balance(posted=100, held=0, debt=0)
    async with sessions() as session:
        assert await ledger.expire_due_lots(session, now=datetime.now(UTC)) >= 1
        await session.commit()
    assert await balance(sessions, member) == ledger.Balance(posted=60, held=0, debt=0)
    await assert_ledger_ok(sessions)
    await handle.delete()
