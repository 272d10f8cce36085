"""Members: search, and the 360 view (profile, consent, points with the ledger, orders, coupons, journeys with
links to their runs in the Temporal UI, messages, tasks)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.auth import ConsoleUser, require
from api.console.render import render
from api.deps import SessionDep, SettingsDep
from api.pagination import LEDGER_CURSOR, MEMBER_CURSOR
from core.errors import NotFound
from core.settings import Settings
from services import journeys, members, messaging
from services.analytics import member360
from services.journeys import tasks
from services.loyalty import ledger
from services.rewards import coupons
from services.segments import rfm

router = APIRouter()
PAGE = 50
LEDGER_PAGE = 25


def run_url(settings: Settings, workflow_id: str, run_id: str) -> str:
    """The run in the Temporal UI, built the way the journeys API builds its `temporal_url`."""
    base = settings.temporal.ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal.namespace}/workflows/{workflow_id}/{run_id}"


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/members", response_class=HTMLResponse)
async def member_search(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("members")]
) -> HTMLResponse:
    query = (request.query_params.get("q") or "").strip()[:200] or None
    tier = (request.query_params.get("tier") or "").strip()[:32] or None
    after = MEMBER_CURSOR.decode_or_none(request.query_params.get("cursor"))
    rows = await members.search(session, query=query, tier=tier, limit=PAGE + 1, after=after)
    page, next_cursor = MEMBER_CURSOR.take(rows, PAGE, key=lambda m: m.id)
    return render(
        request, "members.html", user=user, rows=page, query=query or "", tier=tier or "", next_cursor=next_cursor
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
async def member_360(
    request: Request,
    member_id: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("members")],
) -> HTMLResponse:
    parsed = _uuid(member_id)
    try:
        if parsed is None:
            raise NotFound(f"member {member_id} does not exist", code="member_not_found")
        view = await member360.view(session, parsed)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="member")
    after = LEDGER_CURSOR.decode_or_none(request.query_params.get("cursor"))
    rows = await ledger.statement(session, parsed, limit=LEDGER_PAGE + 1, after=after)
    lines, older = LEDGER_CURSOR.take(rows, LEDGER_PAGE, key=lambda line: line.entry_id)
    runs = await journeys.member_runs(session, parsed, limit=20)
    return render(
        request,
        "member.html",
        user=user,
        m=view.member,
        points=view.points,
        expiring=await ledger.expiring(session, parsed),
        orders=view.recent_orders,
        lines=lines,
        older=older,
        coupons=await coupons.list_member_coupons(session, parsed, limit=20),
        runs=[(run, run_url(settings, run.workflow_id, run.run_id)) for run in runs],
        messages=await messaging.list_messages(session, member_id=parsed, limit=20),
        tasks=await tasks.listing(session, status=None, role=None, member_id=parsed, limit=20),
        scores=await rfm.rfm_scores(session, parsed),
        can_tasks="tasks" in user.pages,
    )
