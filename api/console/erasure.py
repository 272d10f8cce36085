"""Erasing a member from the console (admin only): a confirmation page that says what goes and what stays, with
the reason the audit log keeps; the same service as DELETE /api/v1/members/{id}."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, WrongRole, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import InvalidInput, NotFound
from models import Member
from services import members, privacy
from services.platform.api_keys import Role
from services.privacy.erasure import ErasureRequest

router = APIRouter()


def _admin(user: ConsoleUser) -> ConsoleUser:
    if user.role != Role.ADMIN.value:
        raise WrongRole(user, "erase")
    return user


async def _member(session: SessionDep, member_id: str) -> Member | None:
    try:
        return await members.get(session, uuid.UUID(member_id))
    except (ValueError, NotFound):
        return None


def _page(request: Request, user: ConsoleUser, member: Member, *, error: str | None, reason: str) -> Response:
    status = 422 if error else 200
    return render(request, "member_erase.html", status_code=status, user=user, m=member, error=error, reason=reason)


@router.get("/members/{member_id}/erase")
async def erase_form(
    request: Request, member_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("members")]
) -> Response:
    _admin(user)  # before the lookup: another role must not learn which member ids exist
    member = await _member(session, member_id)
    if member is None:
        return render(request, "not_found.html", status_code=404, user=user, what="member")
    return _page(request, user, member, error=None, reason="")


@router.post("/members/{member_id}/erase")
async def erase(
    request: Request, member_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("members")]
) -> Response:
    _admin(user)
    form = await checked_form(request, user)
    member = await _member(session, member_id)
    if member is None:
        return render(request, "not_found.html", status_code=404, user=user, what="member")
    reason = form.get("reason", "")
    if form.get("confirm") != "1":
        return _page(request, user, member, error="Tick the box to confirm: erasure cannot be undone.", reason=reason)
    try:
        outcome = await privacy.erase(session, member.id, ErasureRequest(reason=reason), actor=user.actor)
    except ValidationError:
        return _page(request, user, member, error="Give a reason of 3 to 500 characters.", reason=reason)
    except InvalidInput as exc:
        member_key = member.id
        await session.rollback()  # the member row was locked; read it again for the page
        return _page(request, user, await members.get(session, member_key), error=exc.message, reason=reason)
    await commit(session)
    stopped = await privacy.stop_workflows(await request.app.state.temporal.client(), outcome)
    message = "Member erased." + (
        " Some workflows could not be stopped yet: erase again." if stopped.not_stopped else ""
    )
    return RedirectResponse(flash_to(request, f"/console/members/{member.id}", message), status_code=303)
