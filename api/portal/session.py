"""The portal's cookie session: set at sign-in (HttpOnly, SameSite=Lax, Secure over https, path /portal), read
on every page against its server-side row, and ended at sign-out. Forms of a signed-in member carry a CSRF
token derived from the session's token; SameSite=Lax already keeps the cookie off other sites' posts."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from core.settings import Settings
from services.platform import signed
from services.portal import sessions

COOKIE = "mf_portal"
PATH = "/portal"


def now(request: Request) -> datetime:
    """The portal's clock: tests set `app.state.portal_clock` to move it (expiry), everyone else has UTC now."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "portal_clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def secret_of(request: Request) -> str | None:
    settings = settings_of(request)
    return settings.secret_key.get_secret_value() if settings.secret_key else None


def csrf_for(request: Request, token: str) -> str:
    secret = secret_of(request) or ""
    return signed.keyed_hash(secret, "portal csrf", token).hex()[:32]


@dataclass(frozen=True)
class PortalMember:
    member_id: uuid.UUID
    token: str
    csrf: str


class SignInRequired(Exception):
    """No open session: the handler sends the browser to the sign-in page."""


async def current_member(request: Request, session: SessionDep) -> PortalMember:
    token = request.cookies.get(COOKIE)
    member_id = await sessions.member_of(session, token, now=now(request))
    if member_id is None or token is None:
        raise SignInRequired
    return PortalMember(member_id, token, csrf_for(request, token))


MemberDep = Annotated[PortalMember, Depends(current_member)]


def csrf_ok(form: dict[str, str], who: PortalMember) -> bool:
    return hmac.compare_digest(form.get("csrf_token", ""), who.csrf)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings_of(request).portal.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=PATH,
    )


async def on_sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    response = RedirectResponse("/portal/sign-in", status_code=303)
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path=PATH)
    return response
