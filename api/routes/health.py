"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import text

from services.journeys import pending
from services.platform import outbox, taskqueues

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
# Read from the same database statement: journeys delivered to Temporal that have not recorded their first step.
JOURNEYS_NOT_BEGUN = Gauge(
    "memberflow_journeys_not_begun", "Journey runs delivered to Temporal in the last hour but not at their first step"
)
JOURNEYS_NOT_BEGUN_OLDEST = Gauge(
    "memberflow_journeys_not_begun_oldest_age_seconds", "Seconds since the oldest of them was delivered (0 when none)"
)
# From Temporal (DescribeTaskQueue, cached a few seconds): absent while Temporal cannot say, with TEMPORAL_UP 0.
TASK_QUEUE_BACKLOG = Gauge(
    "memberflow_temporal_task_queue_backlog",
    "Approximate workflow or activity tasks waiting for a worker on one of the worker's task queues",
    ["task_queue", "kind"],
)
TASK_QUEUE_BACKLOG_AGE = Gauge(
    "memberflow_temporal_task_queue_backlog_age_seconds",
    "Approximate age of the oldest task waiting on the queue (0 when none)",
    ["task_queue", "kind"],
)
TEMPORAL_UP = Gauge("memberflow_temporal_up", "1 if Temporal answered for the task queue backlog at the last reading")


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
            waiting = await asyncio.wait_for(pending.not_begun(session), timeout=2.0)
    except Exception:  # noqa: BLE001 - metrics must answer even when the database does not
        OUTBOX_UP.set(0)
        return
    OUTBOX_UP.set(1)
    OUTBOX_QUEUED.labels("start").set(queued.starts)
    OUTBOX_QUEUED.labels("signal").set(queued.signals)
    OUTBOX_OLDEST.set(queued.oldest_age_seconds)
    OUTBOX_PARKED.set(queued.parked)
    JOURNEYS_NOT_BEGUN.set(waiting.count)
    JOURNEYS_NOT_BEGUN_OLDEST.set(waiting.oldest_age_seconds)


async def _observe_task_queues(request: Request) -> None:
    report: taskqueues.TaskQueueReport = await request.app.state.temporal.task_queue_backlog()
    TASK_QUEUE_BACKLOG.clear()
    TASK_QUEUE_BACKLOG_AGE.clear()
    TEMPORAL_UP.set(1 if report.known else 0)
    for backlog in report.backlogs:
        TASK_QUEUE_BACKLOG.labels(backlog.task_queue, backlog.kind.value).set(backlog.count)
        TASK_QUEUE_BACKLOG_AGE.labels(backlog.task_queue, backlog.kind.value).set(backlog.oldest_age_seconds)


@router.get(
    "/metrics",
    summary="Prometheus metrics (with the Temporal backlog: the outbox, the task queues, journeys not begun)",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    await asyncio.gather(_observe_backlog(request), _observe_task_queues(request))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
