"""Journeys: the list, a definition on the canvas (with who is at each step; the canvas also edits it, see
api.console.journey_editor) and as steps, the runs behind each count on the canvas, its versions, a new journey's
empty canvas, and editing as JSON with the problems shown inline."""

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
from api.console.journey_editor import draft_out
from api.console.members import run_url
from api.console.render import flash_to, read_definition, render
from api.deps import SessionDep, SettingsDep
from api.pagination import STEP_RUN_CURSOR
from core.errors import InvalidInput, NotFound
from models import JourneyVersion
from services import journeys
from services.journeys import drafts
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


def step_url(kind: str, step: str, measure: str) -> str:
    """The console's list of the runs one of a step's counts counts."""
    return f"/console/journeys/{quote(kind, safe='')}/steps/{quote(step, safe='')}?measure={measure}"


def _canvas(
    kind: str, shown: JourneyVersion, counts: dict[str, journeys.StepCounts], **editor: Any
) -> dict[str, Any] | None:
    """What the canvas draws, embedded in the page as JSON: the steps with their live counts, and the edges; and
    for the editor, the definition with its stored positions, plus whatever `editor` adds (draft, versions)."""
    try:
        parsed = Definition.model_validate(shown.definition)
    except ValidationError:
        return None
    drawn = journeys.graph(parsed)
    return {
        "kind": kind,
        "version": shown.version,
        "definition": shown.definition,
        "layout": shown.layout or {},
        **editor,
        "nodes": [
            {
                **asdict(node),
                "counts": asdict(counts.get(node.id, journeys.StepCounts())),
                "count_urls": {measure: step_url(kind, node.id, measure) for measure in journeys.MEASURES},
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
    all_versions = await journeys.versions(session, kind)
    saved = await drafts.get_draft(session, kind)
    compare = _version_param(request, "compare")
    canvas = _canvas(
        kind,
        shown,
        await journeys.step_counts(session, kind),
        current_version=journey.current_version,
        versions=[v.version for v in all_versions],
        draft=draft_out(saved) if saved is not None else None,
        compare=compare if compare in {v.version for v in all_versions} else None,
    )
    return render(
        request,
        "journey.html",
        status_code=status_code,
        user=user,
        journey=journey,
        shown=shown,
        steps=_steps(shown.definition),
        canvas=canvas,
        saved_draft=saved,
        versions=all_versions,
        draft=draft if draft is not None else json.dumps(shown.definition, indent=2, ensure_ascii=False),
        problems=problems or [],
    )


@router.get("/journeys", response_class=HTMLResponse)
async def journey_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> HTMLResponse:
    rows, unpublished = await journeys.list_journeys(session), await drafts.list_new_drafts(session)
    return render(request, "journeys.html", user=user, rows=rows, unpublished=unpublished)


def _version_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name) or ""
    return int(raw) if raw.isdigit() and len(raw) < 8 else None


@router.get("/journeys/new", response_class=HTMLResponse)
async def journey_new(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> HTMLResponse:
    """An empty canvas for a new journey (or the saved draft of one not published yet, ?draft=<kind>)."""
    wanted = request.query_params.get("draft")
    saved = await drafts.get_draft(session, wanted) if wanted and len(wanted) <= 64 else None
    editor = {"new": True, "draft": draft_out(saved) if saved is not None else None}
    return render(request, "journey_new.html", active="journeys", user=user, editor=editor)


@router.get("/journeys/{kind}", response_class=HTMLResponse)
async def journey_view(
    request: Request, kind: str, session: SessionDep, user: Annotated[ConsoleUser, require("journeys")]
) -> HTMLResponse:
    return await _journey_page(request, session, user, kind, version=_version_param(request, "version"))


MEASURE_TITLES = {
    "now": "at this step now",
    "passed": "passed through this step",
    "ended": "ended at this step",
}
STEP_PAGE = 50


async def _step_node(session: SessionDep, kind: str, step: str) -> journeys.Node | None:
    """The step as the canvas draws it, from the newest version that has it (runs of older versions may still be
    at a step the current one dropped); None if no version has it."""
    for row in await journeys.versions(session, kind):
        try:
            parsed = Definition.model_validate(row.definition)
        except ValidationError:
            continue
        node = next((n for n in journeys.graph(parsed).nodes if n.id == step), None)
        if node is not None:
            return node
    return None


@router.get("/journeys/{kind}/steps/{step}", response_class=HTMLResponse)
async def journey_step_runs(
    request: Request,
    kind: str,
    step: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("journeys")],
) -> HTMLResponse:
    """The runs behind one of a step's counts on the canvas, newest first, with their members and Temporal links."""
    try:
        journey = await journeys.get_journey(session, kind)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="journey")
    node = await _step_node(session, kind, step)
    if node is None:
        return render(request, "not_found.html", status_code=404, user=user, what=f"step in the journey {kind}")
    measure = request.query_params.get("measure") or "now"
    if measure not in journeys.MEASURES:
        what = "count on a step (the counts are now, passed and ended)"
        return render(request, "not_found.html", status_code=404, user=user, what=what)
    after = STEP_RUN_CURSOR.decode_or_none(request.query_params.get("cursor"))
    rows = await journeys.runs_at_step(session, kind, step, measure, limit=STEP_PAGE + 1, after=after)
    shown, older = STEP_RUN_CURSOR.take(rows, STEP_PAGE, key=lambda r: (r.run.started_at, r.run.run_id))
    counts = (await journeys.step_counts(session, kind)).get(step, journeys.StepCounts())
    return render(
        request,
        "journey_step.html",
        active="journeys",
        user=user,
        journey=journey,
        node=node,
        measure=measure,
        measures=[(m, MEASURE_TITLES[m], getattr(counts, m), step_url(kind, step, m)) for m in journeys.MEASURES],
        title=MEASURE_TITLES[measure],
        rows=[(r, run_url(settings, r.run.workflow_id, r.run.run_id)) for r in shown],
        older=f"{step_url(kind, step, measure)}&cursor={older}" if older else None,
        newest=step_url(kind, step, measure) if after is not None else None,
    )


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
