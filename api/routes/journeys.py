"""Journeys: definitions (versioned, validated), runs, cancellation, and the staff tasks they create."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from api.boundary import commit
from api.deps import CurrentKey, MarketerKey, SessionDep, SettingsDep, TemporalDep
from api.pagination import JOURNEY_RUN_CURSOR, CursorQuery
from api.personal import UnmaskedQuery, audit_reveal, view_of
from api.schemas.common import ERROR_RESPONSES
from api.schemas.journeys import (
    JourneyDetailOut,
    JourneyOut,
    JourneyRunOut,
    JourneyVersionOut,
    RunPage,
    TaskOut,
    ValidationOut,
)
from core.settings import Settings
from models import JourneyRun
from services import journeys
from services.journeys import tasks
from services.platform.audit import Actor

router = APIRouter(tags=["journeys"], responses=ERROR_RESPONSES)
RawDefinition = Annotated[dict[str, Any], Body(description="A journey definition (see docs/journeys.md)")]


def _run_out(run: JourneyRun, settings: Settings) -> JourneyRunOut:
    out = JourneyRunOut.model_validate(run)
    base = settings.temporal.ui_url.rstrip("/")
    out.temporal_url = f"{base}/namespaces/{settings.temporal.namespace}/workflows/{run.workflow_id}/{run.run_id}"
    return out


@router.get("/api/v1/journeys", response_model=list[JourneyOut], summary="Journeys and their current versions")
async def list_journeys(session: SessionDep, _: CurrentKey) -> list[JourneyOut]:
    return [JourneyOut.model_validate(j) for j in await journeys.list_journeys(session)]


@router.get("/api/v1/journeys/{kind}", response_model=JourneyDetailOut, summary="A journey's current definition")
async def get_journey(kind: str, session: SessionDep, _: CurrentKey) -> JourneyDetailOut:
    journey = await journeys.get_journey(session, kind)
    current = await journeys.get_version(session, kind)
    all_versions = [v.version for v in await journeys.versions(session, kind)]
    return JourneyDetailOut(
        **JourneyOut.model_validate(journey).model_dump(), definition=current.definition, versions=all_versions
    )


@router.get(
    "/api/v1/journeys/{kind}/versions/{version}", response_model=JourneyVersionOut, summary="One version of a journey"
)
async def get_journey_version(
    kind: str, version: Annotated[int, Path(ge=1, le=1_000_000)], session: SessionDep, _: CurrentKey
) -> JourneyVersionOut:
    return JourneyVersionOut.model_validate(await journeys.get_version(session, kind, version))


@router.post("/api/v1/journeys/validate", response_model=ValidationOut, summary="Check a definition without saving")
async def validate_journey(body: RawDefinition, session: SessionDep, _: MarketerKey) -> ValidationOut:
    try:
        definition = journeys.parse(body)
    except Exception as exc:  # noqa: BLE001 - schema errors are the answer here, not a failure
        details = getattr(exc, "details", None) or [{"field": "body", "message": str(exc)}]
        return ValidationOut(valid=False, problems=details)
    problems = await journeys.check(session, definition)
    return ValidationOut(
        valid=not problems, problems=[{"field": f"body.{p.path}", "message": p.message} for p in problems]
    )


@router.post("/api/v1/journeys", status_code=201, response_model=JourneyVersionOut, summary="Create a journey")
async def create_journey(body: RawDefinition, session: SessionDep, key: MarketerKey) -> JourneyVersionOut:
    row = await journeys.create(session, journeys.parse(body), actor=Actor.of_key(key))
    out = JourneyVersionOut.model_validate(row)
    await commit(session)
    return out


@router.put(
    "/api/v1/journeys/{kind}",
    response_model=JourneyVersionOut,
    summary="Publish a new version (runs already started keep theirs)",
)
async def publish_journey(kind: str, body: RawDefinition, session: SessionDep, key: MarketerKey) -> JourneyVersionOut:
    row = await journeys.publish(session, kind, journeys.parse(body), actor=Actor.of_key(key))
    out = JourneyVersionOut.model_validate(row)
    await commit(session)
    return out


@router.post("/api/v1/journeys/{kind}/enable", response_model=JourneyOut, summary="Start runs for new triggers")
async def enable_journey(kind: str, session: SessionDep, key: MarketerKey) -> JourneyOut:
    out = JourneyOut.model_validate(await journeys.set_enabled(session, kind, True, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.post(
    "/api/v1/journeys/{kind}/disable", response_model=JourneyOut, summary="Stop starting runs (running ones go on)"
)
async def disable_journey(kind: str, session: SessionDep, key: MarketerKey) -> JourneyOut:
    out = JourneyOut.model_validate(await journeys.set_enabled(session, kind, False, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.get("/api/v1/journeys/{kind}/runs", response_model=RunPage, summary="Runs of a journey, e.g. who is at a step")
async def journey_runs(
    kind: str,
    session: SessionDep,
    _: CurrentKey,
    settings: SettingsDep,
    step: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(running|completed|exited|cancelled|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> RunPage:
    rows = await journeys.runs_of(
        session, kind, step=step, status=status, limit=limit + 1, after=JOURNEY_RUN_CURSOR.decode(cursor)
    )
    return RunPage.of(rows, limit, JOURNEY_RUN_CURSOR, key=lambda r: r.run_id, item=lambda r: _run_out(r, settings))


@router.get(
    "/api/v1/members/{member_id}/journeys",
    response_model=list[JourneyRunOut],
    summary="A member's journey runs, newest first, with their step history",
)
async def member_journeys(
    member_id: uuid.UUID, session: SessionDep, _: CurrentKey, settings: SettingsDep
) -> list[JourneyRunOut]:
    return [_run_out(r, settings) for r in await journeys.member_runs(session, member_id)]


@router.post(
    "/api/v1/journeys/runs/{run_id}/cancel",
    status_code=202,
    response_model=JourneyRunOut,
    summary="Stop a run (it records itself as cancelled)",
)
async def cancel_run(
    run_id: str, session: SessionDep, key: MarketerKey, temporal: TemporalDep, settings: SettingsDep
) -> JourneyRunOut:
    run = await journeys.cancel_run(session, temporal, run_id, actor=Actor.of_key(key))
    out = _run_out(run, settings)
    await commit(session)
    return out


@router.get("/api/v1/tasks", response_model=list[TaskOut], summary="Staff tasks (callbacks, notes)")
async def list_tasks(
    request: Request,
    session: SessionDep,
    key: CurrentKey,
    status: Annotated[str | None, Query(pattern="^(open|done)$")] = "open",
    role: Annotated[str | None, Query(max_length=20)] = None,
    member_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    unmasked: UnmaskedQuery = False,
) -> list[TaskOut]:
    view = view_of(key, unmasked)
    rows = await tasks.listing(session, status=status, role=role, member_id=member_id, limit=limit)
    out = [TaskOut.of(t, view) for t in rows]
    await audit_reveal(session, request, key, view, [t.member_id for t in out])
    return out


@router.post("/api/v1/tasks/{task_id}/done", response_model=TaskOut, summary="Mark a task done")
async def task_done(task_id: uuid.UUID, session: SessionDep, key: CurrentKey) -> TaskOut:
    out = TaskOut.of(await tasks.set_done(session, task_id, done=True, actor=Actor.of_key(key)), view_of(key))
    await commit(session)
    return out


@router.post("/api/v1/tasks/{task_id}/reopen", response_model=TaskOut, summary="Mark a task not done")
async def task_reopen(task_id: uuid.UUID, session: SessionDep, key: CurrentKey) -> TaskOut:
    out = TaskOut.of(await tasks.set_done(session, task_id, done=False, actor=Actor.of_key(key)), view_of(key))
    await commit(session)
    return out
