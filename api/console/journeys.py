"""Journeys: the list, a definition on the canvas (with who is at each step) and as steps, its versions, and
editing as JSON with the problems shown inline."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, read_definition, render
from api.deps import SessionDep
from core.errors import InvalidInput, NotFound
from core.settings import Settings
from models import JourneyVersion
from services import journeys
from services.journeys.definition import BranchStep, Definition, ExitStep, WaitForStep

router = APIRouter()


def _steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step as what it does and where it goes next, for reading rather than as JSON."""
    try:
        parsed = Definition.model_validate(definition)
    except ValidationError:
        return []
    steps = []
    for i, step in enumerate(parsed.steps):
        following = parsed.steps[i + 1].id if i + 1 < len(parsed.steps) else None
        match step:
            case WaitForStep():
                routes = {"on event": step.on_event or following, "on timeout": step.on_timeout or following}
            case ExitStep() | BranchStep():
                routes = {"then": step.next}
            case _:
                routes = {"then": step.next or following}
        steps.append(
            {
                "id": step.id,
                "action": step.action.replace("_", " "),
                "details": json.dumps(step.body.model_dump(mode="json", exclude_none=True, by_alias=True)),
                "routes": {label: target for label, target in routes.items() if target},
            }
        )
    return steps


def _runs_at_step_url(settings: Settings, kind: str, step: str) -> str:
    """The running workflows at a step, listed by the Temporal UI through the search attributes the workflow keeps."""
    query = f'JourneyKind="{kind}" AND JourneyStep="{step}" AND ExecutionStatus="Running"'
    base = settings.temporal.ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(settings.temporal.namespace)}/workflows?query={quote(query)}"


def _canvas(
    settings: Settings, kind: str, definition: dict[str, Any], counts: dict[str, journeys.StepCounts]
) -> dict[str, Any] | None:
    """What the canvas draws, embedded in the page as JSON: the steps with their live counts, and the edges."""
    try:
        parsed = Definition.model_validate(definition)
    except ValidationError:
        return None
    drawn = journeys.graph(parsed)
    return {
        "kind": kind,
        "nodes": [
            {
                **asdict(node),
                "counts": asdict(counts.get(node.id, journeys.StepCounts())),
                "now_url": _runs_at_step_url(settings, kind, node.id),
            }
            for node in drawn.nodes
        ],
        "edges": [asdict(edge) for edge in drawn.edges],
    }


async def _journey_page(
    request: Request,
    session: SessionDep,
    user: ConsoleUser,
    kind: str,
    *,
    version: int | None = None,
    draft: str | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        journey = await journeys.get_journey(session, kind)
        shown: JourneyVersion = await journeys.get_version(session, kind, version)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="journey version")
    return render(
        request,
        "journey.html",
        status_code=status_code,
        user=user,
        journey=journey,
        shown=shown,
        steps=_steps(shown.definition),
        canvas=_canvas(request.app.state.settings, kind, shown.definition, await journeys.step_counts(session, kind)),
        versions=await journeys.versions(session, kind),
        draft=draft if draft is not None else json.dumps(shown.definition, indent=2, ensure_ascii=False),
        problems=problems or [],
    )


@router.get("/journeys", response_class=HTMLResponse)
async def journey_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> HTMLResponse:
    return render(request, "journeys.html", user=user, rows=await journeys.list_journeys(session))


@router.get("/journeys/{kind}", response_class=HTMLResponse)
async def journey_view(
    request: Request, kind: str, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> HTMLResponse:
    raw = request.query_params.get("version") or ""
    version = int(raw) if raw.isdigit() and len(raw) < 8 else None
    return await _journey_page(request, session, user, kind, version=version)


@router.post("/journeys/{kind}", response_class=HTMLResponse)
async def journey_publish(
    request: Request, kind: str, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> Response:
    form = await checked_form(request, user)
    draft = form.get("definition", "")
    raw, problems = read_definition(draft)
    if raw is not None:
        try:
            definition = journeys.parse(raw)
            problems = [
                {"field": f"body.{p.path}", "message": p.message} for p in await journeys.check(session, definition)
            ]
            if not problems:
                row = await journeys.publish(session, kind, definition, actor=user.actor)
                await commit(session)
                message = f"Published version {row.version}."
                return RedirectResponse(flash_to(request, f"/console/journeys/{quote(kind)}", message), status_code=303)
        except InvalidInput as exc:
            problems = list(exc.details or []) or [{"field": "definition", "message": exc.message}]
        except NotFound:
            return render(request, "not_found.html", status_code=404, user=user, what="journey")
    await session.rollback()
    return await _journey_page(request, session, user, kind, draft=draft, problems=problems, status_code=422)


@router.post("/journeys/{kind}/{switch}", response_class=HTMLResponse)
async def journey_switch(
    request: Request, kind: str, switch: str, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> Response:
    """Enable (start runs for new triggers) or disable (running ones go on)."""
    await checked_form(request, user)
    if switch not in ("enable", "disable"):
        return render(request, "not_found.html", status_code=404, user=user, what="journey")
    try:
        await journeys.set_enabled(session, kind, switch == "enable", actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="journey")
    await commit(session)
    message = "Journey enabled: new triggers start runs." if switch == "enable" else "Journey disabled."
    return RedirectResponse(flash_to(request, f"/console/journeys/{quote(kind)}", message), status_code=303)
