"""The duplicate storm as a test: the same order and the same event 50 times at once, half through each of two
app instances (each with its own connection pool, as two API processes), with and without one Idempotency-Key.
Each is credited once: one order row, one earning, one event row, one rule firing, the points once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import create_engine
from core.settings import Settings
from services.platform.api_keys import Role
from tests.support.helpers import KeyMaker, zone_where_it_is
from tests.support.storm import EXPECTED_COUNTS, count_queries, expected_answers, storm

COPIES = 50


@pytest_asyncio.fixture
async def two_servers(
    settings: Settings, temporal_dev: WorkflowEnvironment, make_key: KeyMaker
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app instances over the one database, each with its own engine, and a shop client for each."""
    key = await make_key(Role.INTEGRATION)
    clients = []
    engines = [create_engine(settings, pool_size=10) for _ in range(2)]
    apps = [create_app(settings, engine=engine, temporal_client=temporal_dev.client) for engine in engines]
    try:
        for app in apps:
            await app.router.lifespan_context(app).__aenter__()
        for app in apps:
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memberflow.test")
            client.headers["Authorization"] = f"Bearer {key}"
            clients.append(client)
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.dispose()


async def test_the_same_order_and_event_fifty_times_across_two_servers_are_credited_once(
    two_servers: list[httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = two_servers[0]
    address = f"storm-{uuid.uuid4().hex}@example.com"
    body = {"external_id": address, "email": address, "timezone": zone_where_it_is(13)}
    member = await first.post("/api/v1/members", json=body)
    assert member.status_code == 201, member.text
    member_id = member.json()["id"]

    plan = await storm(two_servers, member_id, COPIES)

    answers = {s.name: s.answers for s in plan}
    assert answers == expected_answers(COPIES)
    for scenario in plan:
        assert len(scenario.stored) == 1, scenario.name  # every 2xx copy names the one order or event stored
        assert scenario.fresh == 1, scenario.name  # and exactly one of them did the work
        if scenario.key is not None:
            assert len(scenario.bodies) == 1, scenario.name  # with a key, every copy gets the first answer itself
    async with sessions() as session:
        queries = count_queries(member_id)
        counts = {name: (await session.execute(text(sql))).scalar_one() for name, sql in queries.items()}
    assert counts == EXPECTED_COUNTS
