"""The backlog where it builds up: tasks waiting in Temporal's task queues (DescribeTaskQueue on the real dev
server) and journeys delivered to Temporal that have not begun, on /metrics and the console dashboard; and a
Temporal that cannot answer is shown as unknown, never as an error."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.messaging import channel_task_queue
from api.app import create_app
from api.temporal import TemporalConnector
from core.settings import Settings
from models import JourneyRun, TemporalOutbox
from services.journeys import pending
from services.platform import taskqueues
from services.platform.api_keys import Role
from tests.support.console import console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, new_member_id
from tests.support.temporal import started_workers
from workflows.contracts import JOURNEY_WORKFLOW

Sessions = async_sessionmaker[AsyncSession]


def _sample(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} ([\d.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


def _queue_sample(text: str, name: str, task_queue: str, kind: str) -> float | None:
    return _sample(text, f'{name}{{kind="{kind}",task_queue="{task_queue}"}}')


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Poll a condition (Temporal's stats converge within a second or two) instead of sleeping a fixed time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


@pytest.fixture
def uncached(app: FastAPI) -> TemporalConnector:
    """The app's connector with a watch that reads Temporal at every ask, so the test sees changes at once."""
    connector: TemporalConnector = app.state.temporal
    connector.queues = taskqueues.TaskQueueWatch(connector.queues.queues, ttl=0)
    return connector


def test_the_watched_queues_are_the_ones_the_worker_polls(settings: Settings) -> None:
    queue = settings.temporal.task_queue
    assert taskqueues.worker_task_queues(queue) == [
        queue,
        *(channel_task_queue(queue, channel) for channel in taskqueues.CHANNELS),
    ]


async def test_metrics_show_waiting_workflow_tasks_and_journeys_not_begun_until_a_worker_takes_them(
    http: httpx.AsyncClient,
    shop: ApiClient,
    uncached: TemporalConnector,
    temporal_dev: WorkflowEnvironment,
    sessions: Sessions,
    settings: Settings,
    task_queue: str,
) -> None:
    async with sessions() as session:
        before = (await pending.not_begun(session)).count
    # No worker polls this test's queue: the welcome journeys the sign-ups start wait there.
    member_ids = [await new_member_id(shop) for _ in range(3)]
    metrics = ""

    async def three_waiting() -> bool:
        nonlocal metrics
        metrics = (await http.get("/metrics")).text
        waiting = _queue_sample(metrics, "memberflow_temporal_task_queue_backlog", task_queue, "workflow")
        return waiting == 3

    await _until(three_waiting)
    assert _sample(metrics, "memberflow_temporal_up") == 1
    assert _queue_sample(metrics, "memberflow_temporal_task_queue_backlog", task_queue, "activity") == 0
    assert _queue_sample(metrics, "memberflow_temporal_task_queue_backlog", f"{task_queue}-email", "activity") == 0
    age = _queue_sample(metrics, "memberflow_temporal_task_queue_backlog_age_seconds", task_queue, "workflow")
    assert age is not None
    assert age >= 0
    not_begun = _sample(metrics, "memberflow_journeys_not_begun")
    assert not_begun is not None
    assert not_begun >= before + 3
    assert (_sample(metrics, "memberflow_journeys_not_begun_oldest_age_seconds") or 0) > 0

    async with started_workers(temporal_dev.client, sessions, settings):

        async def drained() -> bool:
            metrics = (await http.get("/metrics")).text
            return _queue_sample(metrics, "memberflow_temporal_task_queue_backlog", task_queue, "workflow") == 0

        async def begun() -> bool:
            async with sessions() as session:
                return (await pending.not_begun(session)).count <= before

        await _until(drained)
        await _until(begun)
    async with sessions() as session:
        runs = {
            str(run.member_id)
            for run in (
                await session.execute(
                    JourneyRun.__table__.select().where(JourneyRun.member_id.in_([uuid.UUID(m) for m in member_ids]))
                )
            ).all()
        }
    assert runs == set(member_ids)


async def test_a_temporal_that_cannot_be_reached_is_unknown_on_metrics_and_the_dashboard(
    settings: Settings, engine: AsyncEngine, make_key: KeyMaker
) -> None:
    app = create_app(settings, engine=engine)  # its Temporal address (127.0.0.1:1) answers nothing
    async with app.router.lifespan_context(app), console_client(app) as client:
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert _sample(metrics.text, "memberflow_temporal_up") == 0
        assert "memberflow_temporal_task_queue_backlog{" not in metrics.text
        assert _sample(metrics.text, "memberflow_temporal_outbox_scrape_ok") == 1
        await sign_in(client, await make_key(Role.ADMIN))
        page = await client.get("/console")
    assert page.status_code == 200
    assert "tasks waiting in Temporal: unknown (Temporal did not answer)" in page.text


async def test_a_server_without_describe_task_queue_is_unknown_and_asked_once_per_interval(
    temporal_env: WorkflowEnvironment,
) -> None:
    calls = 0

    async def connect() -> object:
        nonlocal calls
        calls += 1
        return temporal_env.client

    watch = taskqueues.TaskQueueWatch(["q"], ttl=60)
    first = await watch.report(connect)  # type: ignore[arg-type]
    assert not first.known
    assert first.error is not None
    assert "unimplemented" in first.error.lower()
    assert await watch.report(connect) is first  # type: ignore[arg-type]
    assert calls == 1


async def test_the_dashboard_says_how_many_workflow_tasks_wait_and_for_how_long(
    app: FastAPI, shop: ApiClient, uncached: TemporalConnector, make_key: KeyMaker, task_queue: str
) -> None:
    await new_member_id(shop)

    async def waiting() -> bool:
        return (await uncached.task_queue_backlog()).total(taskqueues.TaskKind.WORKFLOW) == 1

    await _until(waiting)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        page = await client.get("/console")
    assert page.status_code == 200
    line = re.search(r"(\d+) workflow tasks? waiting(?:, oldest (\d+)s)?", page.text)
    assert line, "the dashboard has no task queue backlog"
    assert line.group(1) == "1"
    assert line.group(2) is not None
    assert re.search(r"\d+ journeys? not begun", page.text)


@pytest_asyncio.fixture
async def made_up_starts(sessions: Sessions) -> AsyncIterator[list[str]]:
    """Workflow ids of delivered journey starts written here (and removed afterwards), with their runs."""
    ids: list[str] = []
    yield ids
    async with sessions() as session:
        await session.execute(delete(TemporalOutbox).where(TemporalOutbox.workflow_id.in_(ids)))
        await session.execute(delete(JourneyRun).where(JourneyRun.workflow_id.in_(ids)))
        await session.commit()


@pytest.mark.parametrize(
    ("action", "run", "counted"),
    [
        ("start", None, True),  # delivered, no run yet
        ("start", "open", False),  # began (or found its run open)
        ("start", "ended_before", True),  # a previous run of the id ended before: this start has not begun
        ("start", "ended_after", False),  # its run began and has already ended
        ("start_once", "ended_before", False),  # a once-only id that has run has begun for good
    ],
)
async def test_which_delivered_starts_count_as_not_begun(
    sessions: Sessions, made_up_starts: list[str], action: str, run: str | None, counted: bool
) -> None:
    workflow_id = f"journey-test-{uuid.uuid4()}"
    made_up_starts.append(workflow_id)
    now = datetime.now(UTC)
    async with sessions() as session:
        before = (await pending.not_begun(session)).count
        session.add(
            TemporalOutbox(
                action=action,
                workflow_type=JOURNEY_WORKFLOW,
                workflow_id=workflow_id,
                task_queue="q",
                payload={},
                search_attributes={},
                attempts=1,
                created_at=now - timedelta(seconds=60),
                dispatched_at=now - timedelta(seconds=30),
            )
        )
        if run is not None:
            ended = {
                "open": None,
                "ended_before": now - timedelta(hours=2),
                "ended_after": now - timedelta(seconds=10),
            }[run]
            session.add(
                JourneyRun(
                    run_id=str(uuid.uuid4()),
                    workflow_id=workflow_id,
                    member_id=uuid.uuid4(),
                    kind="test",
                    version=1,
                    status="running" if ended is None else "completed",
                    current_step="a",
                    steps=[],
                    started_at=now - timedelta(hours=3),
                    updated_at=now,
                    ended_at=ended,
                )
            )
        await session.commit()
        after = await pending.not_begun(session)
    assert after.count == before + (1 if counted else 0)
    if counted:
        assert after.oldest_age_seconds >= 30
