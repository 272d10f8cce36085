"""Liveness, readiness and metrics."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from core.settings import Settings
from tests.support.helpers import assert_error


async def test_healthz_and_readyz_when_everything_is_up(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": {"ok": True, "error": None},
        "temporal": {"ok": True, "error": None},
    }


async def test_readyz_names_temporal_when_it_is_down(base_settings: Settings, engine: AsyncEngine) -> None:
    app = create_app(base_settings, engine=engine)  # Temporal address 127.0.0.1:1: nothing listens there
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/readyz")
    error = assert_error(response, 503, "not_ready")
    assert error["details"]["database"]["ok"] is True
    assert error["details"]["temporal"]["ok"] is False
    assert "temporal" in error["message"]


async def test_readyz_names_the_database_when_it_is_down(base_settings: Settings) -> None:
    broken = base_settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/readyz")
    error = assert_error(response, 503, "not_ready")
    assert error["details"]["database"]["ok"] is False
    assert "database" in error["message"]


async def test_metrics_count_requests_by_route_template(http: httpx.AsyncClient) -> None:
    await http.get("/healthz")
    body = (await http.get("/metrics")).text
    assert 'memberflow_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "memberflow_http_request_duration_seconds_bucket" in body
