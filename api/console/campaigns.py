"""Campaigns: create from a segment (with a live count) and a journey, start, watch the progress bar live,
pause / resume / cancel, and read the results against the holdout group."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep, SettingsDep
from core.errors import AppError, NotFound, problem_message
from core.settings import Settings
from models import Campaign
from services import campaigns, journeys, segments
from services.campaigns import CampaignSpec
from workflows import contracts

router = APIRouter()
ACTIONS = ("start", "pause", "resume", "cancel")
FINISHED = ("completed", "cancelled", "failed")


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def progress_of(campaign: Campaign, counts: campaigns.Progress) -> dict[str, Any]:
    """What the progress bar shows: members settled (enrolled, held out, skipped, failed, cancelled) of the
    snapshot; a completed campaign is 100% even when its segment was empty."""
    settled = counts.enrolled + counts.held_out + sum(counts.skipped.values()) + counts.failed + counts.cancelled
    if counts.total:
        percent = int(100 * settled / counts.total)
    else:
        percent = 100 if campaign.status == "completed" else 0
    return {
        "status": campaign.status,
        "percent": percent,
        "settled": settled,
        "total": counts.total,
        "enrolled": counts.enrolled,
        "held_out": counts.held_out,
        "skipped": sum(counts.skipped.values()),
        "failed": counts.failed,
        "finished": campaign.status in FINISHED,
    }


def _temporal_url(settings: Settings, campaign: Campaign) -> str:
    base = settings.temporal.ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal.namespace}/workflows/{contracts.campaign_workflow_id(campaign.id)}"


@router.get("/campaigns", response_class=HTMLResponse)
async def campaign_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("campaigns")]
) -> HTMLResponse:
    rows = await campaigns.listing(session, status=None, limit=50, after=None)
    progress = {c.id: progress_of(c, await campaigns.progress(session, c.id)) for c in rows}
    return render(request, "campaigns.html", user=user, rows=rows, progress=progress)


async def _form_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    values: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = values or {"holdout_percent": "10", "attribution_days": "7"}
    count = None
    chosen = _uuid(values.get("segment_id"))
    if chosen is not None:
        count = await _segment_count(session, chosen)
    return render(
        request,
        "campaign_new.html",
        status_code=status_code,
        user=user,
        values=values,
        problems=problems or [],
        fields={p["field"] for p in problems or []},
        segments=await segments.list_segments(session),
        journeys=[j for j in await journeys.list_journeys(session) if j.enabled],
        count=count,
    )


async def _segment_count(session: AsyncSession, segment_id: uuid.UUID) -> int | None:
    try:
        segment = await segments.get(session, segment_id)
    except NotFound:
        return None
    return (await segments.preview(session, segments.definition_of(segment), sample=0)).count


@router.get("/campaigns/new", response_class=HTMLResponse)
async def campaign_new(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("campaigns")]
) -> HTMLResponse:
    values = {"holdout_percent": "10", "attribution_days": "7", **dict(request.query_params)}
    return await _form_page(request, session, user, values=values)


@router.get("/segments/{segment_id}/count")
async def segment_count(
    segment_id: str, session: SessionDep, _: Annotated[ConsoleUser, require("campaigns")]
) -> JSONResponse:
    """The live preview of the campaign form: how many members the segment matches now."""
    parsed = _uuid(segment_id)
    count = await _segment_count(session, parsed) if parsed else None
    if count is None:
        return JSONResponse({"count": None}, status_code=404)
    return JSONResponse({"count": count}, headers={"Cache-Control": "no-store"})


def _spec(form: dict[str, str]) -> dict[str, Any]:
    """The form as a campaign spec; empty optional fields are left out so the spec's defaults apply."""
    raw: dict[str, Any] = {
        "name": form.get("name", ""),
        "segment_id": form.get("segment_id", ""),
        "journey_kind": form.get("journey_kind", ""),
    }
    for name in ("holdout_percent", "send_cap", "attribution_days"):
        if form.get(name, "").strip():
            raw[name] = form[name].strip()
    if form.get("start_at", "").strip():
        # datetime-local has no zone: the form says UTC.
        raw["start_at"] = form["start_at"].strip() + "Z"
    return raw


@router.post("/campaigns", response_class=HTMLResponse)
async def campaign_create(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("campaigns")],
) -> Response:
    form = await checked_form(request, user)
    try:
        spec = CampaignSpec.model_validate(_spec(form))
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": problem_message(err)} for err in exc.errors()
        ]
        return await _form_page(request, session, user, values=form, problems=problems, status_code=422)
    start = form.get("start") == "1"
    try:
        campaign = await campaigns.create(
            session,
            spec,
            actor=user.actor,
            start_in=settings.temporal.task_queue if start else None,
            tuning=settings.campaigns.model_dump(),
        )
        campaign_id = campaign.id
    except AppError as exc:
        await session.rollback()
        problems = [
            {"field": str(d.get("field", "")).removeprefix("body."), "message": str(d.get("message", ""))}
            for d in (exc.details if isinstance(exc.details, list) else [])
        ] or [{"field": "", "message": exc.message}]
        return await _form_page(request, session, user, values=form, problems=problems, status_code=exc.status_code)
    message = "Campaign started." if start else "Campaign saved as a draft."
    await commit(session)
    return RedirectResponse(flash_to(request, f"/console/campaigns/{campaign_id}", message), status_code=303)


async def _detail(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: ConsoleUser,
    campaign_id: uuid.UUID | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        if campaign_id is None:
            raise NotFound("no such campaign", code="campaign_not_found")
        campaign = await campaigns.get(session, campaign_id)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="campaign")
    counts = await campaigns.progress(session, campaign.id)
    segment_name = None
    try:
        segment_name = (await segments.get(session, campaign.segment_id)).name
    except NotFound:
        segment_name = str(campaign.segment_id)
    return render(
        request,
        "campaign.html",
        status_code=status_code,
        user=user,
        c=campaign,
        progress=progress_of(campaign, counts),
        skipped=counts.skipped,
        segment_name=segment_name,
        results=await campaigns.results(session, campaign.id),
        temporal_url=_temporal_url(settings, campaign),
        error=error,
    )


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_view(
    request: Request,
    campaign_id: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("campaigns")],
) -> HTMLResponse:
    return await _detail(request, session, settings, user, _uuid(campaign_id))


@router.get("/campaigns/{campaign_id}/progress")
async def campaign_progress(
    campaign_id: str, session: SessionDep, _: Annotated[ConsoleUser, require("campaigns")]
) -> JSONResponse:
    """Polled by the progress bar while the campaign runs."""
    parsed = _uuid(campaign_id)
    try:
        if parsed is None:
            raise NotFound("no such campaign", code="campaign_not_found")
        campaign = await campaigns.get(session, parsed)
    except NotFound:
        return JSONResponse({"error": "not found"}, status_code=404)
    body = progress_of(campaign, await campaigns.progress(session, campaign.id))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/campaigns/{campaign_id}/{action}", response_class=HTMLResponse)
async def campaign_act(
    request: Request,
    campaign_id: str,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("campaigns")],
) -> Response:
    form = await checked_form(request, user)
    parsed = _uuid(campaign_id)
    if parsed is None or action not in ACTIONS:
        return render(request, "not_found.html", status_code=404, user=user, what="campaign action")
    tuning = settings.campaigns.model_dump()
    queue = settings.temporal.task_queue
    cancel_journeys = form.get("cancel_journeys") == "1"
    try:
        actor = user.actor
        if action == "start":
            campaign, _ = await campaigns.start(session, parsed, actor=actor, task_queue=queue, tuning=tuning)
        elif action == "pause":
            campaign = await campaigns.pause(session, parsed, actor=actor)
        elif action == "resume":
            campaign = await campaigns.resume(session, parsed, actor=actor)
        else:
            campaign = await campaigns.cancel(
                session, parsed, actor=actor, cancel_journeys=cancel_journeys, task_queue=queue, tuning=tuning
            )
        status = campaign.status
    except AppError as exc:
        await session.rollback()
        return await _detail(request, session, settings, user, parsed, error=exc.message, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(flash_to(request, f"/console/campaigns/{parsed}", f"Campaign {status}."), status_code=303)
