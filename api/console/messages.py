"""The message log (status, suppression reason) and staff tasks with done / not done."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.personal import ShownRow
from api.console.render import flash_to, render
from api.deps import SessionDep
from api.pagination import MESSAGE_CURSOR
from core.errors import NotFound
from services import messaging
from services.journeys import tasks
from services.messaging import MessageStatus
from services.messaging.templates import Channel

router = APIRouter()
PAGE = 50


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/messages", response_class=HTMLResponse)
async def message_log(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("messages")]
) -> HTMLResponse:
    params = request.query_params
    status = params.get("status") if params.get("status") in {s.value for s in MessageStatus} else None
    channel = params.get("channel") if params.get("channel") in {c.value for c in Channel} else None
    rows = await messaging.list_messages(
        session,
        member_id=_uuid(params.get("member")),
        status=MessageStatus(status) if status else None,
        channel=Channel(channel) if channel else None,
        limit=PAGE + 1,
        after=MESSAGE_CURSOR.decode_or_none(params.get("cursor")),
    )
    page, next_cursor = MESSAGE_CURSOR.take(rows, PAGE, key=lambda m: m.id)
    return render(
        request,
        "messages.html",
        user=user,
        rows=[ShownRow(g, user.masked_view, "messages", ("reason",)) for g in page],
        status=status or "",
        channel=channel or "",
        statuses=[s.value for s in MessageStatus],
        channels=[c.value for c in Channel],
        next_cursor=next_cursor,
    )


@router.get("/tasks", response_class=HTMLResponse)
async def task_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tasks")]
) -> HTMLResponse:
    status = request.query_params.get("status", "open")
    status = status if status in ("open", "done", "all") else "open"
    rows = await tasks.listing(
        session, status=None if status == "all" else status, role=None, member_id=None, limit=200
    )
    shown = [ShownRow(t, user.masked_view, "staff_tasks", ("title",)) for t in rows]
    return render(request, "tasks.html", user=user, rows=shown, status=status)


@router.post("/tasks/{task_id}", response_class=HTMLResponse)
async def task_toggle(
    request: Request, task_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("tasks")]
) -> Response:
    form = await checked_form(request, user)
    parsed = _uuid(task_id)
    done = form.get("done") == "1"
    try:
        if parsed is None:
            raise NotFound(f"task {task_id} does not exist", code="task_not_found")
        task = await tasks.set_done(session, parsed, done=done, actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="task")
    title = user.masked_view.apply("staff_tasks", "title", task.title) or "Task"
    await commit(session)
    back = form.get("back", "")
    target = back if back.startswith("/console/") and not back.startswith("//") else "/console/tasks"
    message = f"{title}: " + ("done" if done else "open again")
    return RedirectResponse(flash_to(request, target, message), status_code=303)
