"""With PostgreSQL unreachable the API answers 503 `database_unavailable` in the error envelope, with
Retry-After, for reads and writes alike: never a 500 (found by the PostgreSQL-restarted drill, where a refused
connection reached the API as a bare ConnectionRefusedError and a server shutting down as SQLSTATE 57P03)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from api.app import create_app
from core.settings import Settings
from devstack.embedded import free_port
from tests.support.helpers import assert_error


@pytest_asyncio.fixture
async def no_database(base_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a database URL where nothing listens (a free port), as during a restart of PostgreSQL."""
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/memberflow"
    app = create_app(base_settings.model_copy(update={"database_url": dead}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            client.headers["Authorization"] = "Bearer mf_a-key-that-cannot-be-checked-now"
            yield client


async def test_a_write_gets_a_clean_503_while_the_database_is_down(no_database: httpx.AsyncClient) -> None:
    body = {"external_id": f"down-{uuid.uuid4().hex}", "email": "down@example.com"}
    response = await no_database.post("/api/v1/members", json=body, headers={"Idempotency-Key": "k1"})
    error = assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert "retry" in error["message"]


async def test_a_read_gets_a_clean_503_while_the_database_is_down(no_database: httpx.AsyncClient) -> None:
    response = await no_database.get(f"/api/v1/members/{uuid.uuid4()}")
    assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
