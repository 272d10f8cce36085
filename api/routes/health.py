"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import text

from services.platform import outbox

router = APIRouter(tags=["operations"])

# Read from the database at each scrape, so every API process reports the same, current figure.
OUTBOX_QUEUED = Gauge(
    "memberflow_temporal_outbox_queued", "Workflow starts and signals committed but not yet delivered", ["kind"]
)
OUTBOX_OLDEST = Gauge(
    "memberflow_temporal_outbox_oldest_age_seconds", "Age of the oldest undelivered start or signal (0 when none)"
)
OUTBOX_PARKED = Gauge(
    "memberflow_temporal_outbox_parked",
    "Starts and signals the relay gave up on after repeated failures (GET /api/v1/outbox/parked lists them)",
)
OUTBOX_UP = Gauge("memberflow_temporal_outbox_scrape_ok", "1 if the outbox backlog could be read at this scrape")


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database_ok(request: Request) -> tuple[bool, str | None]:
    try:
        async with request.app.state.sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=2.0)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
        return False, f"database unreachable: {type(exc).__name__}: {exc}"[:300]
    return True, None


@router.get("/readyz", summary="The database and Temporal are reachable")
async def readyz(request: Request) -> JSONResponse:
    (db_ok, db_error), (tp_ok, tp_error) = await asyncio.gather(
        _database_ok(request), request.app.state.temporal.healthy()
    )
    checks = {
        "database": {"ok": db_ok, "error": db_error},
        "temporal": {"ok": tp_ok, "error": tp_error},
    }
    if db_ok and tp_ok:
        return JSONResponse({"status": "ready", "checks": checks})
    down = [name for name, check in checks.items() if not check["ok"]]
    return JSONResponse(
        status_code=503,
        content={
            "error": {"code": "not_ready", "message": f"not ready: {', '.join(down)} unavailable", "details": checks}
        },
    )


async def _observe_backlog(request: Request) -> None:
    try:
        async with request.app.state.sessions() as session:
            queued = await asyncio.wait_for(outbox.backlog(session), timeout=2.0)
    except Exception:  # noqa: BLE001 - metrics must answer even when the database does not
        OUTBOX_UP.set(0)
        return
    OUTBOX_UP.set(1)
    OUTBOX_QUEUED.labels("start").set(queued.starts)
    OUTBOX_QUEUED.labels("signal").set(queued.signals)
    OUTBOX_OLDEST.set(queued.oldest_age_seconds)
    OUTBOX_PARKED.set(queued.parked)


@router.get("/metrics", summary="Prometheus metrics (with the Temporal backlog in the outbox)", response_class=Response)
async def metrics(request: Request) -> Response:
    await _observe_backlog(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
