"""The approver inbox: pending high-value redemptions with the member summary and risk hints, decisions
(services.rewards.approvals.decide, the same call as the API's), and their history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.personal import shown_member
from api.console.render import flash_to, render
from api.deps import SessionDep, TemporalDep
from core.errors import AppError
from services.rewards import approvals

router = APIRouter()
MAX_REASON = 500


async def _page(
    request: Request,
    session: SessionDep,
    user: ConsoleUser,
    *,
    error: str | None = None,
    error_for: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    items = await approvals.inbox(session, status="pending", limit=100)
    # The inbox's member summary, masked for the signed-in role (services.privacy.masking): an approver
    # recognises the person (W*, 138****0000) without reading their contact data.
    view = user.masked_view
    people = {item.approval.member_id: shown_member(item.member, view) for item in items}
    return render(
        request,
        "inbox.html",
        status_code=status_code,
        user=user,
        items=items,
        people=people,
        history=await approvals.history(session, limit=30),
        error=error,
        # An error about an approval no longer pending is shown at the top, not on its (gone) card.
        error_for=error_for if error_for in {str(item.approval.id) for item in items} else None,
    )


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("inbox")]) -> HTMLResponse:
    return await _page(request, session, user)


@router.post("/inbox/{approval_id}/{action}", response_class=HTMLResponse)
async def decide(
    request: Request,
    approval_id: str,
    action: str,
    session: SessionDep,
    temporal: TemporalDep,
    user: Annotated[ConsoleUser, require("inbox")],
) -> Response:
    form = await checked_form(request, user)
    try:
        parsed = uuid.UUID(approval_id)
    except ValueError:
        return await _page(request, session, user, error="No such approval.", status_code=404)
    if action not in ("approve", "reject"):
        return await _page(request, session, user, error="Unknown decision.", error_for=approval_id, status_code=404)
    reason = form.get("reason", "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        return await _page(
            request,
            session,
            user,
            error=f"The reason may be at most {MAX_REASON} characters.",
            error_for=approval_id,
            status_code=422,
        )
    if action == "reject" and reason is None:
        return await _page(
            request, session, user, error="Give a reason for the rejection.", error_for=approval_id, status_code=422
        )
    try:
        decided = await approvals.decide(
            session, temporal, parsed, "approve" if action == "approve" else "reject", reason=reason, actor=user.actor
        )
        await commit(session)
    except AppError as exc:
        await session.rollback()
        return await _page(
            request, session, user, error=exc.message, error_for=approval_id, status_code=exc.status_code
        )
    message = f"Redemption of {decided.points:,} points {decided.status}."
    return RedirectResponse(flash_to(request, "/console/inbox", message), status_code=303)
