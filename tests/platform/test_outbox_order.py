"""A signal never overtakes its workflow's start in the outbox: delivered first it would find no run and be
dropped as "nothing to wake" (found by the Temporal-restarted drill: a start backing off after the outage, the
order's signal delivered by the API's fast path, and the welcome journey never heard of the purchase)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from models import TemporalOutbox
from services.platform import outbox
from workflows import contracts

pytestmark = pytest.mark.time_skipping  # dispatch talks to this test's own time-skipping server

Sessions = async_sessionmaker[AsyncSession]


async def _start_backing_off_then_signal(sessions: Sessions, rows: list[int], task_queue: str) -> tuple[int, int]:
    """A welcome start that failed once during an outage (due again in a minute) and, after it, the member's
    order signal for that journey, as the API's fast path would hand it to dispatch."""
    member = str(uuid.uuid4())
    start = contracts.journey_start(
        contracts.JourneyInput(member_id=member, kind="welcome"), task_queue=task_queue, once=True
    )
    event = contracts.MemberEventSignal(type="order_completed")
    async with sessions() as session:
        first = await outbox.enqueue_start(session, start)
        then = await outbox.enqueue_signal(session, contracts.member_event_signal("welcome", member, event))
        await session.execute(
            update(TemporalOutbox)
            .where(TemporalOutbox.id == first.id)
            .values(
                attempts=1,
                next_attempt_at=func.now() + outbox.backoff(7),
                created_at=func.now() - outbox.RELAY_GRACE * 2,
            )
        )
        await session.commit()
    rows.extend([first.id, then.id])
    return first.id, then.id


async def _pending(sessions: Sessions, row_id: int) -> bool:
    async with sessions() as session:
        row = (await session.execute(select(TemporalOutbox).where(TemporalOutbox.id == row_id))).scalar_one()
        return row.dispatched_at is None


async def test_a_signal_waits_for_its_workflows_start_and_then_reaches_the_run(
    sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str, rows: list[int]
) -> None:
    start_id, signal_id = await _start_backing_off_then_signal(sessions, rows, task_queue)

    assert await outbox.dispatch(sessions, temporal_env.client, ids=[signal_id]) == 0  # the fast path holds it
    assert await _pending(sessions, signal_id)

    async with sessions() as session:  # the start's backoff is over
        await session.execute(update(TemporalOutbox).where(TemporalOutbox.id == start_id).values(next_attempt_at=None))
        await session.commit()
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[start_id, signal_id]) == 2
    assert not await _pending(sessions, signal_id)

    async with sessions() as session:
        workflow_id = (
            await session.execute(select(TemporalOutbox.workflow_id).where(TemporalOutbox.id == start_id))
        ).scalar_one()
    history = await temporal_env.client.get_workflow_handle(workflow_id).fetch_history()
    kinds = [e.event_type for e in history.events]
    assert kinds[0] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in kinds  # the run heard of the purchase


async def test_the_relay_holds_a_signal_whose_start_fails_in_the_same_pass(
    sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str, rows: list[int]
) -> None:
    start_id, signal_id = await _start_backing_off_then_signal(sessions, rows, task_queue)
    async with sessions() as session:  # the start is due but names a workflow type no server knows how to start
        await session.execute(
            update(TemporalOutbox).where(TemporalOutbox.id == start_id).values(next_attempt_at=None, action="start_v0")
        )
        await session.execute(
            update(TemporalOutbox)
            .where(TemporalOutbox.id == signal_id)
            .values(created_at=func.now() - outbox.RELAY_GRACE * 2)
        )
        await session.commit()

    await outbox.dispatch(sessions, temporal_env.client, ids=[start_id, signal_id])

    assert await _pending(sessions, start_id)
    assert await _pending(sessions, signal_id)
