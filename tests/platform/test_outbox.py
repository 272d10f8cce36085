"""The Temporal outbox: a committed change reaches Temporal even when Temporal was down at the time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api import boundary
from api.app import create_app
from api.deps import SessionDep
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from models import TemporalOutbox
from services.platform import outbox
from tests.support.brand import scratch_database
from tests.support.helpers import ApiClient, member_body
from tests.support.waiting import value_when
from worker import build_worker, relay_outbox
from workflows import contracts
from workflows.contracts import JourneyStatus
from workflows.journey import JourneyWorkflow

pytestmark = pytest.mark.time_skipping  # the app and the workers talk to this test's own time-skipping server


@pytest_asyncio.fixture
async def worker(
    temporal_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], task_queue: str
) -> AsyncIterator[Worker]:
    running = build_worker(temporal_env.client, sessions, task_queue)
    async with running:
        yield running


async def test_member_created_while_temporal_is_down_gets_its_journey_from_the_relay(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    make_key: object,
    task_queue: str,
) -> None:
    from services.platform.api_keys import Role

    app = create_app(settings, engine=engine)  # its own Temporal address (127.0.0.1:1) is unreachable
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            shop = ApiClient(http, await make_key(Role.INTEGRATION))  # type: ignore[operator]
            response = await shop.post("/api/v1/members", json=member_body())
    assert response.status_code == 201  # the write never depends on Temporal being up
    member_id = response.json()["id"]
    workflow_id = f"journey-welcome-{member_id}"
    async with sessions() as session:
        row = (
            await session.execute(select(TemporalOutbox).where(TemporalOutbox.workflow_id == workflow_id))
        ).scalar_one()
    assert row.dispatched_at is None  # waiting for the relay

    # Temporal is back: the relay delivers it (rows are due after the grace period; deliver this one now).
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[row.id]) == 1
    description = await temporal_env.client.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.task_queue == task_queue
    # Delivering again (a relay retry after a crash) never starts a second run.
    async with sessions() as session:
        await session.execute(
            TemporalOutbox.__table__.update().where(TemporalOutbox.id == row.id).values(dispatched_at=None)
        )
        await session.commit()
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[row.id]) == 1
    assert (await temporal_env.client.get_workflow_handle(workflow_id).describe()).run_id == description.run_id


async def test_relay_loop_delivers_overdue_rows_and_stops_on_request(
    postgres: EmbeddedPostgres, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """On an outbox of its own (a fresh database), so rows other tests left undelivered never stand ahead of
    this one and the relay's pass is about this row alone."""
    start = contracts.journey_start(
        contracts.JourneyInput(member_id=str(uuid.uuid4()), kind="welcome"), task_queue=task_queue, once=False
    )
    workflow_id = start.id
    db = await scratch_database(postgres, "outbox")
    sessions = db.sessions
    try:
        async with sessions() as session:
            await outbox.enqueue_start(session, start)
            await session.execute(
                TemporalOutbox.__table__.update()
                .where(TemporalOutbox.workflow_id == workflow_id)
                .values(created_at=TemporalOutbox.created_at - outbox.RELAY_GRACE * 2)
            )
            await session.commit()
        stop = asyncio.Event()
        relay = asyncio.create_task(relay_outbox(sessions, temporal_env.client, stop, interval=0.05))
        try:
            row = await value_when(
                lambda: _outbox_row(sessions, workflow_id),
                lambda found: found.dispatched_at is not None,
                what="the relay to deliver the row",
            )
        finally:
            stop.set()
            await asyncio.wait_for(relay, timeout=5)
        assert (row.attempts, row.last_error) == (1, None)
    finally:
        await db.engine.dispose()
    assert (await temporal_env.client.get_workflow_handle(workflow_id).describe()).run_id


async def _outbox_row(sessions: async_sessionmaker[AsyncSession], workflow_id: str) -> TemporalOutbox:
    async with sessions() as session:
        return (
            await session.execute(select(TemporalOutbox).where(TemporalOutbox.workflow_id == workflow_id))
        ).scalar_one()


async def test_a_typed_start_is_stored_as_before_and_rows_from_before_it_are_still_delivered(
    sessions: async_sessionmaker[AsyncSession], temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    member_id = str(uuid.uuid4())
    typed = contracts.journey_start(
        contracts.JourneyInput(member_id=member_id, kind="welcome"), task_queue=task_queue, once=True
    )
    # A row as the outbox wrote it before the typed starts: the same columns, a hand-made payload.
    legacy = TemporalOutbox(
        action="start_once",
        workflow_type="JourneyWorkflow",
        workflow_id=f"journey-birthday-{member_id}",
        task_queue=task_queue,
        payload={"member_id": member_id, "kind": "birthday", "campaign_id": None},
        search_attributes={"MemberId": member_id, "JourneyKind": "birthday", "JourneyStep": "start"},
        attempts=0,
    )
    async with sessions() as session:
        row = await outbox.enqueue_start(session, typed)
        session.add(legacy)
        await session.flush()
        ids = [row.id, legacy.id]
        assert (row.action, row.workflow_type, row.workflow_id) == (
            "start_once",
            "JourneyWorkflow",
            f"journey-welcome-{member_id}",
        )
        assert row.search_attributes == {"MemberId": member_id, "JourneyKind": "welcome", "JourneyStep": "start"}
        assert row.payload == {
            "member_id": member_id,
            "kind": "welcome",
            "campaign_id": None,
            "version": None,
            "trigger_facts": {},  # a sign-up's facts: none (points_expiring's carry the date and the points)
        }
        await session.commit()
    assert await outbox.dispatch(sessions, temporal_env.client, ids=ids) == 2
    for kind in ("welcome", "birthday"):
        description = await temporal_env.client.get_workflow_handle(f"journey-{kind}-{member_id}").describe()
        assert description.workflow_type == contracts.JOURNEY_WORKFLOW
        assert description.task_queue == task_queue
        assert description.typed_search_attributes.get(contracts.MEMBER_ID) == member_id
        assert description.typed_search_attributes.get(contracts.JOURNEY_KIND) == kind


@pytest.mark.parametrize("commit", ["boundary", "bare"])
async def test_a_request_that_commits_delivers_its_outbox_rows_after_the_response(
    app: FastAPI,
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    commit: str,
) -> None:
    """Delivery belongs to the request's session, not to each handler: a page that commits its write, even
    without api.boundary.commit, has its workflow start handed to Temporal before the response is done."""
    member_id = str(uuid.uuid4())
    workflow_id = contracts.journey_workflow_id("welcome", member_id)

    async def write(session: SessionDep) -> Response:
        start = contracts.journey_start(
            contracts.JourneyInput(member_id=member_id, kind="welcome"), task_queue=task_queue, once=False
        )
        await outbox.enqueue_start(session, start)
        if commit == "boundary":
            await boundary.commit(session)
        else:
            await session.commit()
        return RedirectResponse("/console", status_code=303)

    app.add_api_route(f"/test-outbox/{workflow_id}", write, methods=["POST"])
    assert (await http.post(f"/test-outbox/{workflow_id}")).status_code == 303
    async with sessions() as session:
        row = (
            await session.execute(select(TemporalOutbox).where(TemporalOutbox.workflow_id == workflow_id))
        ).scalar_one()
    assert row.dispatched_at is not None  # not left for the relay
    assert (await temporal_env.client.get_workflow_handle(workflow_id).describe()).run_id


async def _wait_for_step(handle: object, step: str) -> JourneyStatus:
    for _ in range(100):
        status: JourneyStatus = await handle.query(JourneyWorkflow.status)  # type: ignore[attr-defined]
        if status.step == step:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"journey never reached {step}")
