"""Test fixtures: one real PostgreSQL server and one Temporal dev server per session, a time-skipping test
server per test that asks for one, the app, API keys per role and the real workers.

Tests are isolated by data (fresh external ids, a fresh task queue per test), never by mocks. Fixtures used by
one domain's tests only live in that domain's conftest.py; helpers (not fixtures) live in tests/support/."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import ApiSettings, Settings, TemporalSettings
from core.temporal import data_converter, ensure_search_attributes
from devstack.embedded import EmbeddedPostgres, find_binary, free_port
from services.loyalty import invariants
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.codec import session_temporal_settings
from tests.support.helpers import ApiClient, KeyMaker, role_client
from tests.support.schema_fuzz import keep_hypothesis_reports
from tests.support.scratch_dir import server_dir
from tests.support.temporal import started_workers
from workflows.contracts import SEARCH_ATTRIBUTES

TEST_DB = "memberflow_test"
keep_hypothesis_reports()

# Property tests draw the same examples on every run (derandomize), so a failure in `make test` fails again on
# the next run and on another machine; HYPOTHESIS_PROFILE=explore draws fresh ones, to look for new failures.
hypothesis.settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("explore", print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL, its data outside pytest's tmp_path (see tests/support/scratch_dir.py)."""
    with server_dir("test-pg") as root:
        server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
        server.start()
        try:
            server.ensure_database(TEST_DB)
            upgrade(server.url(TEST_DB))
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    return postgres.url(TEST_DB)


@pytest.fixture(scope="session")
def temporal_settings() -> TemporalSettings:
    """The session's Temporal settings: with the payload codec on under MEMBERFLOW_TEST_CODEC=1, so the
    environments below, the app and the workers all encrypt (tests/support/codec.py)."""
    return session_temporal_settings()


@pytest.fixture(scope="session")
def base_settings(database_url: str, temporal_settings: TemporalSettings) -> Settings:
    return Settings(
        database_url=database_url,
        temporal=temporal_settings,
        secret_key=SecretStr("test-secret-key-for-unsubscribe-links"),
        api=TEST_API,
    )


TEST_API = ApiSettings(failed_auth_limit=10**9, failed_auth_floor_seconds=0.001, key_use_write_seconds=3600)
"""Every test's client is 127.0.0.1 on one shared database, and hundreds of tests fail authentication on
purpose: no limit, a 1 ms floor, and no last-use writes while a test counts statements. The tests of those
features (tests/platform/test_auth_limits.py, test_key_expiry.py) make apps with their own settings."""


@pytest_asyncio.fixture(scope="session")
async def engine(base_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(base_settings, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


SCAN_ZONES = ("UTC", "Asia/Shanghai")
"""PostgreSQL session time zones the date-sensitive tests run under: whatever the server is set to, a day is
a UTC day (Asia/Shanghai is UTC+8, so 16:00-24:00 UTC falls on the next day there)."""


@pytest_asyncio.fixture(scope="session")
async def zoned_engines(database_url: str) -> AsyncIterator[dict[str, AsyncEngine]]:
    engines = {
        zone: create_async_engine(database_url, pool_size=5, connect_args={"server_settings": {"timezone": zone}})
        for zone in SCAN_ZONES
    }
    yield engines
    for engine in engines.values():
        await engine.dispose()


@pytest.fixture(params=SCAN_ZONES)
def zoned_sessions(
    request: pytest.FixtureRequest, zoned_engines: dict[str, AsyncEngine]
) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database whose `TimeZone` is each of SCAN_ZONES in turn (the test runs once per
    zone), to prove a query's days do not depend on the server's time zone."""
    return create_session_factory(zoned_engines[request.param])


@pytest_asyncio.fixture(scope="session")
async def temporal_dev(temporal_settings: TemporalSettings) -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) shared by the API tests; workflows started there are inert
    unless a test runs a worker on its own task queue."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
        data_converter=data_converter(temporal_settings),
        search_attributes=list(SEARCH_ATTRIBUTES),
        ui=False,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def temporal_env(temporal_settings: TemporalSettings) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server per test: its clock is global and any pending workflow task would stop
    it from skipping, so tests that skip time never share one. It starts in well under a second."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=data_converter(temporal_settings),
    )
    await ensure_search_attributes(env.client, SEARCH_ATTRIBUTES)
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def temporal(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    """The Temporal environment the `app` fixture and the `workers` talk to: the shared dev server, or this
    test's own time-skipping server (`temporal_env`) in tests marked `time_skipping`."""
    name = "temporal_env" if request.node.get_closest_marker("time_skipping") else "temporal_dev"
    env: WorkflowEnvironment = request.getfixturevalue(name)
    return env


@pytest.fixture
def settings(base_settings: Settings, task_queue: str) -> Settings:
    temporal = base_settings.temporal.model_copy(update={"task_queue": task_queue, "namespace": "default"})
    return base_settings.model_copy(update={"temporal": temporal})


@pytest_asyncio.fixture
async def app(settings: Settings, engine: AsyncEngine, temporal: WorkflowEnvironment) -> AsyncIterator[FastAPI]:
    application = create_app(settings, engine=engine, temporal_client=temporal.client)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as client:
        yield client


@pytest.fixture
def make_key(sessions: async_sessionmaker[AsyncSession]) -> KeyMaker:
    async def make(role: Role) -> str:
        async with sessions() as session:
            issued = await api_keys.create(session, name=f"test-{role.value}-{uuid.uuid4().hex[:6]}", role=role)
            await session.commit()
            return issued.secret

    return make


@pytest_asyncio.fixture
async def admin(http: httpx.AsyncClient, make_key: KeyMaker) -> ApiClient:
    return await role_client(http, make_key, Role.ADMIN)


@pytest_asyncio.fixture
async def shop(http: httpx.AsyncClient, make_key: KeyMaker) -> ApiClient:
    return await role_client(http, make_key, Role.INTEGRATION)


@pytest_asyncio.fixture
async def marketer(http: httpx.AsyncClient, make_key: KeyMaker) -> ApiClient:
    return await role_client(http, make_key, Role.MARKETER)


@pytest_asyncio.fixture
async def approver(http: httpx.AsyncClient, make_key: KeyMaker) -> ApiClient:
    return await role_client(http, make_key, Role.APPROVER)


@pytest_asyncio.fixture
async def workers(
    temporal: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[list[Worker]]:
    """The real worker and the message-channel workers on this test's task queue of `temporal` (on the shared
    dev server real time passes, so no deadline fires; time-skipping tests skip to it)."""
    async with started_workers(temporal.client, sessions, settings) as running:
        yield running


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture(scope="module", autouse=True)
async def ledger_stays_exact(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After each test module that used the database, the whole ledger must still check exact (every transaction
    sums to zero, every cached balance equals its entries, lots match): whatever a module's tests did to points
    (checkouts, referrals, challenges, plans, refunds) cannot leave it wrong unnoticed. One snapshot, so postings
    still arriving from other work cannot make it look wrong; the cost is one check per module, not per test."""
    yield
    used_database = any(
        "engine" in item.fixturenames for item in request.session.items if item.module is request.module
    )
    if not used_database:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with AsyncSession(engine) as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        result = await invariants.check(session)
    if not result.ok:
        pytest.fail(f"the ledger no longer checks exact after {request.module.__name__}: {result}", pytrace=False)
