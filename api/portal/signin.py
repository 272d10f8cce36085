"""Portal sign-in pages: ask for a code, enter it, follow a signed link, sign out, switch language.

The code request answers with the same redirect whether or not the address is a member's. Wrong, expired and
used-up codes are pages that say so (422) after the attempt is counted and committed; a tampered or expired
link is a 400 page; nothing here answers 500 to what a visitor sends."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.boundary import commit
from api.deps import SessionDep
from api.portal import i18n
from api.portal.render import FormError, read_form, render
from api.portal.session import (
    COOKIE,
    PATH,
    MemberDep,
    csrf_ok,
    now,
    secret_of,
    set_session_cookie,
    settings_of,
)
from core.errors import InvalidInput
from services import referrals
from services.messaging.service import PORTAL_LINK_PURPOSE
from services.platform import signed
from services.portal import sessions, signin

router = APIRouter()


def _source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _sign_in_page(request: Request, *, error: str | None = None, status_code: int = 200, address: str = "") -> Response:
    return render(
        request, "sign_in.html", locale=i18n.choose(request), status_code=status_code, error=error, address=address
    )


@router.get("/sign-in")
async def sign_in_form(request: Request, out: str | None = None) -> Response:
    if out:
        locale = i18n.choose(request)
        return render(request, "sign_in.html", locale=locale, address="", notice=i18n.translator(locale)("signed_out"))
    return _sign_in_page(request)


@router.post("/sign-in")
async def ask_for_code(request: Request, session: SessionDep) -> Response:
    t = i18n.translator(i18n.choose(request))
    secret = secret_of(request)
    if not secret:
        return _sign_in_page(request, error=t("not_configured"), status_code=503)
    try:
        form = await read_form(request)
        address = signin.parse_address(form.get("address", "")[:320])
    except (FormError, InvalidInput):
        return _sign_in_page(request, error=t("invalid_address"), status_code=422)
    settings = settings_of(request)
    try:
        request_id = await signin.request_code(
            session,
            address,
            source=_source(request),
            secret=secret,
            settings=settings.portal,
            now=now(request),
            task_queue=settings.temporal.task_queue,
        )
    except signin.RateLimited:
        message = t("too_many_code_requests", minutes=settings.portal.request_window_minutes)
        return _sign_in_page(request, error=message, status_code=429, address=address.typed)
    await commit(session)
    return RedirectResponse(f"/portal/sign-in/code?r={request_id}", status_code=303)


def _code_page(
    request: Request,
    request_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    referral_refused: str | None = None,
) -> Response:
    minutes = settings_of(request).portal.code_minutes
    return render(
        request,
        "code.html",
        locale=i18n.choose(request),
        status_code=status_code,
        request_id=request_id,
        minutes=minutes,
        error=error,
        referral_refused=referral_refused if referral_refused in referrals.REFUSALS else None,
    )


@router.get("/sign-in/code")
async def code_form(
    request: Request,
    r: Annotated[uuid.UUID | None, Query()] = None,
    referral: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """`referral`: why the sign-up's referral code was refused (the join page's redirect says so here)."""
    if r is None:
        return RedirectResponse("/portal/sign-in", status_code=303)
    return _code_page(request, str(r), referral_refused=referral)


@router.post("/sign-in/code")
async def enter_code(request: Request, session: SessionDep) -> Response:
    t = i18n.translator(i18n.choose(request))
    secret = secret_of(request)
    if not secret:
        return _sign_in_page(request, error=t("not_configured"), status_code=503)
    try:
        form = await read_form(request)
        request_id = uuid.UUID(form.get("request_id", ""))
    except (FormError, ValueError):
        return _sign_in_page(request, error=t("code_used"), status_code=422)
    settings = settings_of(request).portal
    try:
        member_id = await signin.verify_code(
            session, request_id, form.get("code", "")[:20], secret=secret, settings=settings, now=now(request)
        )
    except InvalidInput:
        return _code_page(request, str(request_id), error=t("invalid_code"), status_code=422)
    except signin.CodeRejected as exc:
        await commit(session)  # the attempt counts
        message = t(exc.code, left=exc.left) if exc.code == "code_wrong" else t(exc.code)
        return _code_page(request, str(request_id), error=message, status_code=422)
    token = await sessions.open_session(session, member_id, method="code", now=now(request), days=settings.session_days)
    await commit(session)
    response = RedirectResponse("/portal", status_code=303)
    set_session_cookie(response, request, token)
    return response


@router.get("/l/{token}")
async def follow_link(request: Request, session: SessionDep, token: str) -> Response:
    """A signed link from one of our messages: signs the member in, or says why it cannot."""
    locale = i18n.choose(request)
    t = i18n.translator(locale)
    try:
        member_id = signed.verify_link(secret_of(request), token, PORTAL_LINK_PURPOSE, now=now(request))
    except (signed.InvalidLink, signed.ExpiredLink) as exc:
        return render(request, "message.html", locale=locale, status_code=400, title=t("link_title"), text=t(exc.code))
    # A link outlives nothing: an erased member's link opens no session (member_of checks on every page too).
    token_out = await sessions.open_session(
        session, member_id, method="link", now=now(request), days=settings_of(request).portal.session_days
    )
    await commit(session)
    response = RedirectResponse("/portal", status_code=303)
    set_session_cookie(response, request, token_out)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, who: MemberDep) -> Response:
    try:
        form = await read_form(request)
    except FormError:
        form = {}
    if not csrf_ok(form, who):
        locale = i18n.choose(request)
        t = i18n.translator(locale)
        return render(request, "message.html", locale=locale, status_code=403, title=t("form_expired"), text="")
    await sessions.revoke(session, who.token, now=now(request))
    await commit(session)
    response = RedirectResponse("/portal/sign-in?out=1", status_code=303)
    response.delete_cookie(COOKIE, path=PATH)
    return response


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/portal") and not value.startswith("//") and "\\" not in value:
        return value
    return "/portal"


@router.get("/lang/{locale}")
async def switch_language(request: Request, locale: str, next: str | None = None) -> Response:  # noqa: A002
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(
            i18n.LANG_COOKIE,
            locale,
            max_age=365 * 86400,
            samesite="lax",
            path=PATH,
            secure=request.url.scheme == "https",
        )
    return response
