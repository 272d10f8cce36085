"""The API's outbox delivery: a request's rows go to Temporal in one transaction (one lock, one UPDATE), each
workflow's rows in order; past its bound, rows are left to the relay; with Temporal down, nothing is lost (the
rows stay pending)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.delivery import OutboxDelivery
from api.temporal import TemporalConnector
from core.settings import TemporalSettings
from models import TemporalOutbox
from services.platform import outbox
from tests.support.statements import counting
from workflows import contracts


async def _queued_starts(sessions: async_sessionmaker[AsyncSession], task_queue: str, count: int) -> list[int]:
    """`count` journey starts committed to the outbox, each for a member of its own (no worker runs them)."""
    async with sessions() as session:
        starts = [
            contracts.journey_start(
                contracts.JourneyInput(member_id=str(uuid.uuid4()), kind="welcome"), task_queue=task_queue, once=True
            )
            for _ in range(count)
        ]
        ids = await outbox.enqueue_all(session, starts)
        await session.commit()
    return ids


async def _pending(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[int]:
    async with sessions() as session:
        rows = await session.execute(
            select(TemporalOutbox.id).where(TemporalOutbox.id.in_(ids), TemporalOutbox.dispatched_at.is_(None))
        )
        return sorted(rows.scalars())


async def test_concurrent_requests_rows_are_delivered_each_in_one_transaction(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine, temporal_dev: WorkflowEnvironment, task_queue: str
) -> None:
    ids = await _queued_starts(sessions, task_queue, 10)
    delivery = OutboxDelivery(sessions, TemporalConnector(TemporalSettings(), temporal_dev.client))
    async with counting(engine) as sent:
        await asyncio.gather(*(delivery.deliver(ids[i : i + 2]) for i in range(0, 10, 2)))  # five requests
    assert await _pending(sessions, ids) == []
    assert len(sent.where("UPDATE temporal_outbox")) == 5, sent.describe()  # one per request, not one per row
    assert sent.transactions == 5
    async with sessions() as session:
        workflow_ids = (
            await session.execute(select(TemporalOutbox.workflow_id).where(TemporalOutbox.id.in_(ids)))
        ).scalars()
        for workflow_id in workflow_ids:
            description = await temporal_dev.client.get_workflow_handle(workflow_id).describe()
            assert description.status == WorkflowExecutionStatus.RUNNING


async def test_a_start_and_its_signal_handed_in_together_reach_temporal_in_order(
    sessions: async_sessionmaker[AsyncSession], temporal_dev: WorkflowEnvironment, task_queue: str
) -> None:
    """A signal delivered before its workflow's start would find no run and be dropped: within a delivery, each
    workflow's rows go in id order while different workflows go concurrently."""
    member_id = uuid.uuid4()
    start = contracts.journey_start(
        contracts.JourneyInput(member_id=str(member_id), kind="welcome"), task_queue=task_queue, once=True
    )
    signal = contracts.member_event_signal(
        "welcome", member_id, contracts.MemberEventSignal(type="order_completed", properties={})
    )
    async with sessions() as session:
        ids = await outbox.enqueue_all(session, [start, signal])
        await session.commit()
    delivery = OutboxDelivery(sessions, TemporalConnector(TemporalSettings(), temporal_dev.client))
    await delivery.deliver(ids)
    assert await _pending(sessions, ids) == []
    history = await temporal_dev.client.get_workflow_handle(start.id).fetch_history()
    signals = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
    assert len(signals) == 1


async def test_past_its_bound_a_request_leaves_its_rows_to_the_relay(
    sessions: async_sessionmaker[AsyncSession], temporal_dev: WorkflowEnvironment, task_queue: str
) -> None:
    ids = await _queued_starts(sessions, task_queue, 3)
    delivery = OutboxDelivery(sessions, TemporalConnector(TemporalSettings(), temporal_dev.client), max_in_flight=1)
    first = asyncio.create_task(delivery.deliver(ids[:1]))
    await asyncio.sleep(0)  # the first delivery is now running
    await delivery.deliver(ids[1:])  # returns at once: one delivery is already in flight
    await first
    assert delivery.left_to_relay == 2
    assert await _pending(sessions, ids) == ids[1:]
    # What the relay does with them once they are due (here: at once, by id).
    assert await outbox.dispatch(sessions, temporal_dev.client, ids=ids) == 2
    assert await _pending(sessions, ids) == []


async def test_with_temporal_down_the_rows_stay_pending_for_the_relay(
    sessions: async_sessionmaker[AsyncSession], task_queue: str
) -> None:
    ids = await _queued_starts(sessions, task_queue, 2)
    down = TemporalConnector(TemporalSettings(address="127.0.0.1:1"), connect_timeout=1.0)
    delivery = OutboxDelivery(sessions, down)
    await delivery.deliver(ids)  # returns; the failure is logged, not raised into the request
    assert await _pending(sessions, ids) == ids
    await delivery.close()
