"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

router = APIRouter(tags=["operations"])


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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
