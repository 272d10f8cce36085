"""API keys (admin): the list with each key's expiry and last use in words, making a key (its secret shown
once, on the answer to the form, never in a link) and revoking one. The same services as /api/v1/keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, problem_lines, render
from api.deps import SessionDep
from api.schemas.keys import KeyCreate
from core.errors import AppError, NotFound
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role

router = APIRouter()


def _span(seconds: float) -> str:
    """A duration in its largest unit, rounded: "3 minutes", "5 days" (for 4 days 23 hours), "1 hour"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def last_used_text(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    span = _span(max(0.0, (now - when).total_seconds()))
    return "just now" if span == "less than a minute" else f"{span} ago"


def expiry_text(key: ApiKey, now: datetime) -> str:
    if key.expires_at is None:
        return "never"
    if key.expires_at <= now:
        return "expired"
    return f"expires in {_span((key.expires_at - now).total_seconds())}"


def _rows(keys: list[ApiKey], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "status": "revoked" if key.revoked_at else ("expired" if api_keys.is_expired(key, now) else "active"),
            "expiry": expiry_text(key, now),
            "last_used": last_used_text(key.last_used_at, now),
        }
        for key in keys
    ]


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    created: api_keys.IssuedKey | None = None,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = datetime.now(UTC)
    return render(
        request,
        "keys.html",
        status_code=status_code,
        user=user,
        rows=_rows(await api_keys.list_keys(session), now),
        roles=[role.value for role in Role],
        created=created,
        problems=problems or [],
        values=values or {"role": Role.INTEGRATION.value},
    )


def _expiry_days(form: dict[str, str]) -> int | None:
    raw = form.get("expires_in_days", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError("expires in: a whole number of days, or empty for never")
    return int(raw)


def _personal_data(form: dict[str, str]) -> bool | None:
    """The form's choice: empty for the role's default (admin keys may reveal), else yes or no."""
    choice = form.get("personal_data", "")
    if choice not in ("", "yes", "no"):
        raise ValueError("personal data: choose the default, yes or no")
    return None if choice == "" else choice == "yes"


@router.get("/keys", response_class=HTMLResponse)
async def key_list(request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("keys")]) -> Response:
    return await _page(request, session, user)


@router.post("/keys", response_class=HTMLResponse)
async def key_create(request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("keys")]) -> Response:
    form = await checked_form(request, user)
    try:
        body = KeyCreate.model_validate(
            {
                "name": form.get("name", ""),
                "role": form.get("role", ""),
                "expires_in_days": _expiry_days(form),
                "personal_data": _personal_data(form),
            }
        )
    except (ValueError, ValidationError) as exc:
        problems = problem_lines(exc) if isinstance(exc, ValidationError) else [str(exc)]
        return await _page(request, session, user, problems=problems, values=form, status_code=422)
    try:
        issued = await api_keys.create(
            session,
            name=body.name,
            role=body.role,
            expires_at=body.expiry(),
            personal_data=body.personal_data,
            source="console",
            actor=user.actor,
        )
    except AppError as exc:
        await session.rollback()
        return await _page(request, session, user, problems=[exc.message], values=form, status_code=exc.status_code)
    await commit(session)
    return await _page(request, session, user, created=issued, status_code=201)


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
async def key_revoke(
    request: Request, key_id: uuid.UUID, session: SessionDep, user: Annotated[ConsoleUser, require("keys")]
) -> Response:
    await checked_form(request, user)
    try:
        key = await api_keys.revoke(session, key_id, actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="API key")
    name = key.name
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/keys", f"Key {name} revoked."), status_code=303)
