"""The profile form built from the custom member fields, and the registration page published per channel or
store (`/portal/join?src=store-sh-01`, listed with its QR code on the console's sources page).

Both validate through the member model the API uses (services.portal.profile, services.portal.join) and show
each problem on its field (422) after a rollback, so a refused form changes nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.boundary import commit
from api.deps import SessionDep
from api.portal import i18n
from api.portal.render import FormError, read_form_lists, render
from api.portal.session import MemberDep, PortalMember, csrf_ok, now, secret_of, settings_of
from core.errors import InvalidInput
from services import members, referrals
from services.portal import join, profile, signin

router = APIRouter()
MAX_PROFILE_FIELDS = 400
SRC = Annotated[str | None, Query(max_length=200)]
REF = Annotated[str | None, Query(max_length=32)]


def _first(posted: dict[str, list[str]], name: str) -> str:
    return (posted.get(name) or [""])[0]


def _award(request: Request) -> int:
    return settings_of(request).points.awards.get("profile_completed", 0)


async def _profile_page(
    request: Request,
    session: SessionDep,
    who: PortalMember,
    *,
    posted: dict[str, list[str]] | None = None,
    problems: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    member = await members.get(session, who.member_id)
    locale = i18n.choose(request, member.locale)
    t = i18n.translator(locale)
    return render(
        request,
        "profile.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        notice=notice,
        error=t("fix_fields") if problems else None,
        fields=await profile.form(session, member),
        posted=posted,
        problems=problems or {},
        complete=await profile.is_complete(session, member),
        award=_award(request),
    )


@router.get("/profile")
async def profile_page(
    request: Request,
    session: SessionDep,
    who: MemberDep,
    saved: str | None = None,
    points: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> Response:
    notice = None
    if saved:
        t = i18n.translator(i18n.choose(request, (await members.get(session, who.member_id)).locale))
        notice = t("profile_points", points=points) if points else t("profile_saved")
    return await _profile_page(request, session, who, notice=notice)


@router.post("/profile")
async def save_profile(request: Request, session: SessionDep, who: MemberDep) -> Response:
    try:
        posted = await read_form_lists(request, max_fields=MAX_PROFILE_FIELDS)
    except FormError:
        posted = {}
    if not csrf_ok({"csrf_token": _first(posted, "csrf_token")}, who):
        locale = i18n.choose(request)
        t = i18n.translator(locale)
        return render(request, "message.html", locale=locale, status_code=403, title=t("form_expired"), text="")
    try:
        saved = await profile.save(
            session, who.member_id, posted, now=now(request), task_queue=settings_of(request).temporal.task_queue
        )
    except profile.FormInvalid as exc:
        await session.rollback()
        return await _profile_page(request, session, who, posted=posted, problems=exc.problems, status_code=422)
    await commit(session)
    suffix = f"&points={saved.points}" if saved.points else ""
    return RedirectResponse(f"/portal/profile?saved=1{suffix}", status_code=303)


# --- registration -----------------------------------------------------------------------------------------


async def _join_page(
    request: Request,
    session: SessionDep,
    src: str | None,
    *,
    ref: str | None = None,
    posted: dict[str, list[str]] | None = None,
    problems: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = i18n.choose(request)
    t = i18n.translator(locale)
    context: dict[str, Any] = {
        "src": join.source_code(src),
        "ref": referrals.normalise(ref) or "",
        "fields": await profile.required_fields(session),
        "posted": posted or {},
        "problems": problems or {},
    }
    if problems and not error:
        error = t("fix_fields")
    return render(request, "join.html", locale=locale, status_code=status_code, error=error, **context)


@router.get("/join")
async def join_page(request: Request, session: SessionDep, src: SRC = None, ref: REF = None) -> Response:
    return await _join_page(request, session, src, ref=ref)


@router.post("/join")
async def sign_up(request: Request, session: SessionDep) -> Response:
    locale = i18n.choose(request)
    t = i18n.translator(locale)
    try:
        posted = await read_form_lists(request, max_fields=MAX_PROFILE_FIELDS)
    except FormError:
        posted = {}
    src = _first(posted, "src")[:200]
    ref = _first(posted, "ref")[:32] or None
    secret = secret_of(request)
    if not secret:
        return await _join_page(request, session, src, posted=posted, error=t("not_configured"), status_code=503)
    settings = settings_of(request)
    try:
        joined = await join.register(
            session,
            posted,
            src=src,
            locale=locale,
            client=request.client.host if request.client else "unknown",
            secret=secret,
            settings=settings.portal,
            now=now(request),
            task_queue=settings.temporal.task_queue,
            ref=ref,
        )
    except profile.FormInvalid as exc:
        await session.rollback()
        return await _join_page(request, session, src, ref=ref, posted=posted, problems=exc.problems, status_code=422)
    except InvalidInput:
        await session.rollback()
        problems = {"email": profile.INVALID}
        return await _join_page(request, session, src, posted=posted, problems=problems, status_code=422)
    except signin.RateLimited:
        await session.rollback()
        message = t("too_many_code_requests", minutes=settings.portal.request_window_minutes)
        return await _join_page(request, session, src, posted=posted, error=message, status_code=429)
    await commit(session)
    refused = f"&referral={joined.referral_refused}" if joined.referral_refused else ""
    return RedirectResponse(f"/portal/sign-in/code?r={joined.request_id}{refused}", status_code=303)
