"""Segments: the list (with the campaigns that use each one and a count on demand) and the builder page, where the
React segment builder (entry "segments") edits a filter with a live count; its JSON calls are in
api.console.segment_builder."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.console.auth import ConsoleUser, require
from api.console.render import render
from api.console.segment_builder import segment_url
from api.deps import SessionDep
from core.errors import NotFound
from models import Campaign, Segment
from services import campaigns, segments

router = APIRouter()

SegmentsUser = Annotated[ConsoleUser, require("segments")]
EVERY_MEMBER: dict[str, Any] = {"all": []}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _campaign(campaign: Campaign) -> dict[str, str]:
    return {
        "id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        "url": f"/console/campaigns/{campaign.id}",
    }


async def _count(session: AsyncSession, segment: Segment) -> int:
    return (await segments.preview(session, segments.definition_of(segment), sample=0)).count


@router.get("/segments", response_class=HTMLResponse)
async def segment_list(request: Request, session: SessionDep, user: SegmentsUser) -> HTMLResponse:
    """Every segment by name. Counting runs the filter over all members, so the list counts one segment when
    asked (`?count=<id>`) rather than all of them on every visit."""
    rows = await segments.list_segments(session)
    used = await campaigns.using_segments(session, [s.id for s in rows])
    wanted = _uuid(request.query_params.get("count"))
    counts = {s.id: await _count(session, s) for s in rows if s.id == wanted}
    return render(request, "segments.html", user=user, rows=rows, used=used, counts=counts)


def _builder_page(
    request: Request, user: ConsoleUser, segment: Segment | None, used: list[Campaign], status_code: int = 200
) -> HTMLResponse:
    builder = {
        "segment": None
        if segment is None
        else {
            "id": str(segment.id),
            "name": segment.name,
            "description": segment.description or "",
            "url": segment_url(segment.id),
        },
        "definition": segment.definition if segment is not None else EVERY_MEMBER,
        "campaigns": [_campaign(c) for c in used],
        "list_url": "/console/segments",
    }
    return render(
        request,
        "segment.html",
        status_code=status_code,
        active="segments",
        user=user,
        segment=segment,
        used=used,
        builder=builder,
    )


@router.get("/segments/new", response_class=HTMLResponse)
async def segment_new(request: Request, user: SegmentsUser) -> HTMLResponse:
    return _builder_page(request, user, None, [])


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
async def segment_view(request: Request, segment_id: str, session: SessionDep, user: SegmentsUser) -> HTMLResponse:
    parsed = _uuid(segment_id)
    try:
        if parsed is None:
            raise NotFound("no such segment", code="segment_not_found")
        segment = await segments.get(session, parsed)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="segment")
    used = (await campaigns.using_segments(session, [segment.id])).get(segment.id, [])
    return _builder_page(request, user, segment, used)
