"""Service tickets in the console: the queues, a queue's board with the SLA clock of each ticket (time left or
overdue), and a ticket's page with its history and the reply, status, assign, close and reopen forms. The forms
send the same commands as the API (services.care.command: Temporal updates the workflow validates)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep, SettingsDep, TemporalDep
from core.errors import AppError, NotFound
from services import care, members
from services.care import queues
from services.care.steps import reference
from services.care.tickets import MAX_DESCRIPTION
from workflows import contracts

router = APIRouter()
ACTIONS = {
    "reply": contracts.TICKET_REPLY_UPDATE,
    "status": contracts.TICKET_STATUS_UPDATE,
    "assign": contracts.TICKET_ASSIGN_UPDATE,
    "close": contracts.TICKET_CLOSE_UPDATE,
    "reopen": contracts.TICKET_REOPEN_UPDATE,
}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.get("/tickets", response_class=HTMLResponse)
async def queue_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tickets")]
) -> HTMLResponse:
    counts = await care.queue_counts(session)
    rows = [(q, *counts.get(q.id, (0, 0))) for q in await queues.listing(session)]
    return render(request, "tickets.html", user=user, rows=rows)


@router.get("/tickets/queues/{code}", response_class=HTMLResponse)
async def queue_board(
    request: Request, code: str, session: SessionDep, user: Annotated[ConsoleUser, require("tickets")]
) -> HTMLResponse:
    try:
        queue = await queues.by_code(session, code[:64])
    except AppError:
        return render(request, "not_found.html", status_code=404, user=user, what="queue")
    now = datetime.now(UTC)
    board = [(t, care.clock(t, now), reference(t.id)) for t in await care.queue_board(session, queue.id)]
    return render(request, "ticket_queue.html", user=user, queue=queue, board=board, active="tickets")


async def _ticket_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ConsoleUser,
    ticket_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ticket = await care.get(session, ticket_id)
    member = await members.get(session, ticket.member_id)
    workflow_id = contracts.ticket_workflow_id(ticket.id)
    ui = settings.temporal.ui_url.rstrip("/")
    return render(
        request,
        "ticket.html",
        status_code=status_code,
        user=user,
        t=ticket,
        ref=reference(ticket.id),
        member_name=member.name or member.external_id,
        queue=await queues.get(session, ticket.queue_id),
        clock=care.clock(ticket, datetime.now(UTC)),
        history=await care.history(session, ticket.id),
        statuses=contracts.WORKING_STATUSES,
        workflow_url=f"{ui}/namespaces/{settings.temporal.namespace}/workflows/{workflow_id}",
        error=error,
        active="tickets",
        max_reply=MAX_DESCRIPTION,
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(
    request: Request,
    ticket_id: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("tickets")],
) -> HTMLResponse:
    parsed = _uuid(ticket_id)
    try:
        if parsed is None:
            raise NotFound("no such ticket")
        return await _ticket_page(request, session, settings, user, parsed)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="ticket")


@router.post("/tickets/{ticket_id}/{action}", response_class=HTMLResponse)
async def ticket_command(
    request: Request,
    ticket_id: str,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    user: Annotated[ConsoleUser, require("tickets")],
) -> Response:
    form = await checked_form(request, user)
    parsed = _uuid(ticket_id)
    if parsed is None or action not in ACTIONS:
        return render(request, "not_found.html", status_code=404, user=user, what="ticket")
    try:
        status = await care.command(
            session,
            temporal,
            parsed,
            ACTIONS[action],
            by=user.name,
            actor=user.actor,
            body=form.get("body", "")[: MAX_DESCRIPTION + 1] if action == "reply" else None,
            status=form.get("status") or None if action == "status" else None,
            assignee=(form.get("assignee", "").strip()[:100] or None) if action == "assign" else None,
        )
        await commit(session)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="ticket")
    except AppError as exc:
        await session.rollback()
        return await _ticket_page(
            request, session, settings, user, parsed, error=exc.message, status_code=exc.status_code
        )
    message = f"Ticket {reference(parsed)}: {action} done, now {status.status.replace('_', ' ')}."
    return RedirectResponse(flash_to(request, f"/console/tickets/{parsed}", message), status_code=303)
