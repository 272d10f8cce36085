"""Opening a service ticket from the console: staff who work tickets pick the member (by external id or email,
or pre-filled from the member 360 page), the channel, category, priority (each showing the SLA it implies),
queue, subject and description. The form opens the ticket as POST /api/v1/tickets does (services.care.create,
audited as `ticket.open`); refused input re-renders the form with its problems and what was typed, and writes
nothing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.personal import shown_member
from api.console.render import flash_to, render
from api.deps import SessionDep, SettingsDep
from core.errors import AppError, NotFound
from core.settings import CareSettings, Settings
from models import Member
from services import care, members
from services.care import queues
from services.care.steps import reference
from services.care.tickets import MAX_DESCRIPTION
from services.privacy import masking

router = APIRouter()

Problems = list[dict[str, str]]
FIELDS = ("member", "channel", "category", "priority", "queue", "subject", "description")
# What the form says when an input breaks TicketCreate's rules (pydantic's own words are for developers).
_MESSAGES = {
    "channel": "Choose a channel from the list.",
    "category": "Use lower-case letters, digits, - or _ (for example delivery), at most 64 characters.",
    "priority": "Choose a priority from the list.",
    "subject": "Enter a subject of at most 200 characters.",
    "description": f"Describe the request in at most {MAX_DESCRIPTION:,} characters.",
    "queue": "Choose a queue from the list.",
}


def _span(hours: float) -> str:
    """An SLA target as people say it: 4 h, 24 h, 3 days."""
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    return f"{hours:g} h"


def sla_label(care_settings: CareSettings, priority: str) -> str:
    """What a priority promises, as its option in the form shows it."""
    target = care_settings.sla[priority]
    first, resolved = _span(target.first_response_hours), _span(target.resolution_hours)
    return f"{priority}: first reply within {first}, resolved within {resolved}"


def _defaults(settings: Settings, member: Member | None) -> dict[str, str]:
    return {
        "member": member.external_id if member is not None else "",
        "channel": care.Channel.PHONE.value,
        "priority": care.Priority.NORMAL.value,
        "queue": settings.care.default_queue,
    }


async def _form_page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: ConsoleUser,
    values: dict[str, str],
    *,
    member: Member | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    problems = problems or []
    view = masking.view_for(user.role, holds_permission=user.personal_data, unmasked=False)
    return render(
        request,
        "ticket_new.html",
        status_code=status_code,
        user=user,
        active="tickets",
        values=values,
        member=shown_member(member, view) if member is not None else None,
        problems=problems,
        bad_inputs={p["field"] for p in problems},
        channels=[c.value for c in care.Channel],
        priorities=[(p.value, sla_label(settings.care, p.value)) for p in care.Priority],
        queues=await queues.listing(session),
        max_description=MAX_DESCRIPTION,
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("tickets")],
) -> HTMLResponse:
    """The empty form, or the form for the member named by `?member=<id>` (the member 360 page's link)."""
    member = None
    if (member_id := _uuid(request.query_params.get("member"))) is not None:
        try:
            member = await members.get(session, member_id)
        except NotFound:
            member = None
    return await _form_page(request, session, settings, user, _defaults(settings, member), member=member)


async def _resolve_member(session: AsyncSession, typed: str) -> tuple[Member | None, Problems]:
    if not typed.strip():
        return None, [{"field": "member", "message": "Enter the member's external id or email."}]
    matches = await members.lookup(session, typed[:320])
    if not matches:
        return None, [{"field": "member", "message": "No member has that external id or email."}]
    if len(matches) > 1:
        message = "Several members share that email: enter the member's external id instead."
        return None, [{"field": "member", "message": message}]
    return matches[0], []


def _ticket_data(member: Member | None, form: dict[str, str]) -> tuple[care.TicketCreate | None, Problems]:
    """The ticket the form describes, or what is wrong with each input (the member's problem comes first)."""
    raw: dict[str, Any] = {name: form.get(name, "") for name in FIELDS if name != "member"}
    raw["member_id"] = member.id if member is not None else uuid.UUID(int=0)
    raw["queue"] = raw["queue"] or None
    try:
        data = care.TicketCreate.model_validate(raw)
    except ValidationError as exc:
        fields = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
        problems = [{"field": name, "message": _MESSAGES[name]} for name in FIELDS if name in fields]
        return None, problems or [{"field": "subject", "message": "The ticket could not be read; check each input."}]
    return data, []


@router.post("/tickets/new", response_class=HTMLResponse)
async def open_ticket(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[ConsoleUser, require("tickets")],
) -> Response:
    form = await checked_form(request, user)
    values = {name: form.get(name, "")[: MAX_DESCRIPTION + 1] for name in FIELDS}
    member, problems = await _resolve_member(session, values["member"])
    data, invalid = _ticket_data(member, values)
    problems += invalid
    if data is not None and not problems:
        try:
            ticket = await care.create(
                session,
                data,
                care=settings.care,
                task_queue=settings.temporal.task_queue,
                opened_by=user.name,
                actor=user.actor,
            )
            await commit(session)
        except AppError as exc:
            await session.rollback()  # expires the member row: read it again for the page
            member = await members.get(session, data.member_id)
            field = "member" if exc.code.startswith("member_") else "queue" if "queue" in exc.code else "subject"
            return await _form_page(
                request,
                session,
                settings,
                user,
                values,
                member=member,
                problems=[{"field": field, "message": exc.message}],
                status_code=exc.status_code,
            )
        message = f"Ticket {reference(ticket.id)} opened; the member is sent a confirmation with its SLA."
        return RedirectResponse(flash_to(request, f"/console/tickets/{ticket.id}", message), status_code=303)
    return await _form_page(request, session, settings, user, values, member=member, problems=problems, status_code=422)
