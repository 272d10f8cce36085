"""Outbox rows that keep failing never hold back the rows behind them: each failed row waits out its own
backoff, a row that fails again and again for a reason of its own is parked for ops, and a Temporal outage
parks nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from models import AuditEntry, TemporalOutbox
from services.platform import outbox
from services.platform.api_keys import Role
from tests.support.helpers import KeyMaker, role_client
from workflows import contracts

pytestmark = pytest.mark.time_skipping  # dispatch talks to this test's own time-skipping server

Sessions = async_sessionmaker[AsyncSession]


def _good_start(task_queue: str) -> contracts.WorkflowStart:
    journey = contracts.JourneyInput(member_id=str(uuid.uuid4()), kind="welcome")
    return contracts.journey_start(journey, task_queue=task_queue, once=False)


async def _write(sessions: Sessions, rows: list[int], count: int, *, task_queue: str, bad: bool) -> list[int]:
    """`count` rows past the relay's grace period. A bad row names an action no outbox version knows, which
    fails for that row alone, every time."""
    async with sessions() as session:
        written = [await outbox.enqueue_start(session, _good_start(task_queue)) for _ in range(count)]
        ids = [row.id for row in written]
        await session.execute(
            update(TemporalOutbox)
            .where(TemporalOutbox.id.in_(ids))
            .values(created_at=func.now() - outbox.RELAY_GRACE * 2, **({"action": "start_v0"} if bad else {}))
        )
        await session.commit()
    rows.extend(ids)
    return ids


async def _row(sessions: Sessions, row_id: int) -> TemporalOutbox:
    async with sessions() as session:
        return (await session.execute(select(TemporalOutbox).where(TemporalOutbox.id == row_id))).scalar_one()


async def test_101_failing_rows_do_not_hold_back_a_good_one(
    sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str, rows: list[int]
) -> None:
    bad = await _write(sessions, rows, 101, task_queue=task_queue, bad=True)
    (good,) = await _write(sessions, rows, 1, task_queue=task_queue, bad=False)

    # The relay's passes, back to back: the first takes 100 of the failing rows, which then wait; the next
    # one reaches the good row (other tests' leftover rows may come first, so allow a few passes).
    for _ in range(5):
        await outbox.dispatch(sessions, temporal_env.client)
        if (await _row(sessions, good)).dispatched_at is not None:
            break
    delivered = await _row(sessions, good)
    assert delivered.dispatched_at is not None
    description = await temporal_env.client.get_workflow_handle(delivered.workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING

    failed = await _row(sessions, bad[0])
    assert failed.dispatched_at is None
    assert failed.parked_at is None
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "start_v0" in failed.last_error
    assert failed.next_attempt_at is not None
    assert failed.next_attempt_at > failed.created_at


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4, 10, 50)]
    assert waits == [1, 2, 4, 8, 300, 300]


async def _fail_until_parked(sessions: Sessions, client: Client, row_id: int) -> None:
    async with sessions() as session:
        await session.execute(
            update(TemporalOutbox)
            .where(TemporalOutbox.id == row_id)
            .values(attempts=outbox.PARK_AFTER_ATTEMPTS - 1, next_attempt_at=None)
        )
        await session.commit()
    assert await outbox.dispatch(sessions, client, ids=[row_id]) == 0


@pytest_asyncio.fixture
async def ops_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def test_a_row_that_keeps_failing_is_parked_listed_for_ops_and_can_be_retried(
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    rows: list[int],
    ops_http: httpx.AsyncClient,
    make_key: KeyMaker,
) -> None:
    (row_id,) = await _write(sessions, rows, 1, task_queue=task_queue, bad=True)
    await _fail_until_parked(sessions, temporal_env.client, row_id)
    parked = await _row(sessions, row_id)
    assert parked.parked_at is not None
    assert parked.attempts == outbox.PARK_AFTER_ATTEMPTS
    # The relay leaves a parked row alone, even once its backoff has passed.
    async with sessions() as session:
        await session.execute(update(TemporalOutbox).where(TemporalOutbox.id == row_id).values(next_attempt_at=None))
        await session.commit()
        assert (await outbox.backlog(session)).parked >= 1
    await outbox.dispatch(sessions, temporal_env.client)
    assert (await _row(sessions, row_id)).attempts == outbox.PARK_AFTER_ATTEMPTS

    ops = await role_client(ops_http, make_key, Role.OPS)
    listed = await ops.get("/api/v1/outbox/parked", params={"limit": 500})
    assert listed.status_code == 200
    (entry,) = [item for item in listed.json() if item["id"] == row_id]
    assert entry["attempts"] == outbox.PARK_AFTER_ATTEMPTS
    assert "start_v0" in entry["last_error"]
    metrics = (await ops_http.get("/metrics")).text
    assert "memberflow_temporal_outbox_parked" in metrics

    marketer = await role_client(ops_http, make_key, Role.MARKETER)
    assert (await marketer.get("/api/v1/outbox/parked")).status_code == 403
    assert (await marketer.post(f"/api/v1/outbox/{row_id}/retry")).status_code == 403

    # Ops mend the cause (here: the row's action), then put it back in line; the next pass delivers it.
    async with sessions() as session:
        await session.execute(update(TemporalOutbox).where(TemporalOutbox.id == row_id).values(action="start"))
        await session.commit()
    retried = await ops.post(f"/api/v1/outbox/{row_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["attempts"] == 0
    assert retried.json()["parked_at"] is None
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[row_id]) == 1
    async with sessions() as session:
        audited = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "outbox.retry", AuditEntry.target_id == str(row_id))
            )
        ).scalar_one()
    assert audited.details["attempts"] == outbox.PARK_AFTER_ATTEMPTS

    again = await ops.post(f"/api/v1/outbox/{row_id}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    missing = await ops.post(f"/api/v1/outbox/{2**62}/retry")
    assert missing.status_code == 404
    assert (await ops.post("/api/v1/outbox/0/retry")).status_code == 422


async def test_a_temporal_outage_parks_nothing(sessions: Sessions, task_queue: str, rows: list[int]) -> None:
    first, second = await _write(sessions, rows, 2, task_queue=task_queue, bad=False)
    async with sessions() as session:
        await session.execute(
            update(TemporalOutbox).where(TemporalOutbox.id == first).values(attempts=outbox.PARK_AFTER_ATTEMPTS + 5)
        )
        await session.commit()
    # Nothing listens here: every call fails as unavailable, at once.
    unreachable = await Client.connect("127.0.0.1:1", lazy=True, retry_config=RetryConfig(max_retries=0))
    assert await outbox.dispatch(sessions, unreachable, ids=[first, second], concurrency=1) == 0

    tried = await _row(sessions, first)
    assert tried.parked_at is None  # an outage is not the row's fault
    assert tried.attempts == outbox.PARK_AFTER_ATTEMPTS + 6
    assert tried.next_attempt_at is not None
    # One worker slot: the pass stopped at the outage, so the second row was not even tried.
    untouched = await _row(sessions, second)
    assert untouched.attempts == 0
    assert untouched.last_error is None


async def test_after_a_failed_start_its_signal_waits_for_the_next_pass(
    sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str, rows: list[int]
) -> None:
    """A signal must not be taken as "no run to wake, delivered" because the start before it failed."""
    (start_id,) = await _write(sessions, rows, 1, task_queue=task_queue, bad=True)
    start = await _row(sessions, start_id)
    async with sessions() as session:
        signal = await outbox.enqueue_signal(session, contracts.WorkflowSignal(workflow_id=start.workflow_id, name="x"))
        await session.commit()
    rows.append(signal.id)
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[start_id, signal.id]) == 0
    waiting = await _row(sessions, signal.id)
    assert waiting.dispatched_at is None
    assert waiting.attempts == 0
