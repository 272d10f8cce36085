"""The signed-in member's pages: home (tier progress, points, next expiry, recent activity), points history,
the coupon wallet with each coupon's QR code, and preferences (consent per channel, the unsubscribe link).

Every page reads through services.portal.account with the session's member id only; a coupon id in the path
that is not the member's is the same 404 as one that does not exist."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from api.boundary import commit
from api.deps import SessionDep
from api.portal import i18n
from api.portal.render import FormError, local_date, read_form, render
from api.portal.session import MemberDep, PortalMember, csrf_ok, now, secret_of, settings_of
from core.errors import NotFound
from services import members, referrals
from services.messaging.consent import unsubscribe_url
from services.messaging.templates import Channel
from services.portal import account

router = APIRouter()
MAX_ENTRY_ID = 2**63 - 1
HOME_EXPIRY_ROWS = 3  # the home page lists the first few; the points page lists them all


async def _locale(request: Request, session: SessionDep, who: PortalMember) -> tuple[str, str]:
    """The page's language and the member's time zone."""
    member = await members.get(session, who.member_id)
    return i18n.choose(request, member.locale), member.timezone


def _page(request: Request, template: str, who: PortalMember, locale: str, **context: Any) -> Response:
    return render(request, template, locale=locale, signed_in=True, csrf=who.csrf, **context)


@router.get("")
async def home(request: Request, session: SessionDep, who: MemberDep) -> Response:
    summary = await account.home(session, who.member_id)
    locale = i18n.choose(request, summary.member.locale)
    zone = summary.member.timezone
    expiry = summary.next_expiry
    # The member's referral code is made the first time this card shows it.
    invite = await referrals.summary(session, who.member_id, public_url=settings_of(request).messaging.public_url)
    await commit(session)
    return _page(
        request,
        "home.html",
        who,
        locale,
        home=summary,
        expiry=(local_date(expiry[0], zone), expiry[1]) if expiry else None,
        activity=[(local_date(line.created_at, zone), line) for line in summary.activity],
        expiries=summary.expiries,
        expiry_rows=HOME_EXPIRY_ROWS,
        invite=invite,
        invite_qr=qr_svg(invite.link),
    )


@router.get("/points")
async def points_history(
    request: Request,
    session: SessionDep,
    who: MemberDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ENTRY_ID)] = None,
) -> Response:
    locale, zone = await _locale(request, session, who)
    page = await account.history(session, who.member_id, before=before)
    lines = [(local_date(line.created_at, zone), line) for line in page.lines]
    return _page(
        request,
        "history.html",
        who,
        locale,
        lines=lines,
        next_before=page.next_before,
        paged=before,
        expiries=await account.expiry_schedule(session, who.member_id),
        expiry_rows=None,
    )


def _expiry(moment: datetime, zone: str) -> str:
    return local_date(moment, zone)


@router.get("/wallet")
async def wallet(request: Request, session: SessionDep, who: MemberDep) -> Response:
    locale, zone = await _locale(request, session, who)
    views = await account.wallet(session, who.member_id)
    items = [(view, _expiry(view.coupon.expires_at, zone)) for view in views]
    return _page(request, "wallet.html", who, locale, items=items)


def qr_svg(text: str) -> Markup:
    """The code as an inline SVG QR code (segno), sized by CSS; our own markup, so safe to insert."""
    svg = segno.make(text, error="m").svg_inline(border=4, omitsize=True, dark="#111111", light="#ffffff")
    return Markup(svg)  # noqa: S704 - segno's output for a code we generated, not user input


def _coupon_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@router.get("/wallet/{coupon_id}")
async def coupon_page(request: Request, session: SessionDep, who: MemberDep, coupon_id: str) -> Response:
    """A path that is no coupon id is the same 404 page as another member's coupon."""
    locale, zone = await _locale(request, session, who)
    wanted = _coupon_id(coupon_id)
    try:
        if wanted is None:
            raise NotFound("there is no such coupon in your wallet", code="coupon_not_found")
        view = await account.coupon(session, who.member_id, wanted)
    except NotFound:
        t = i18n.translator(locale)
        return render(
            request,
            "message.html",
            locale=locale,
            status_code=404,
            signed_in=True,
            csrf=who.csrf,
            title=t("wallet_title"),
            text=t("not_found"),
        )
    return _page(
        request,
        "coupon.html",
        who,
        locale,
        view=view,
        expires=_expiry(view.coupon.expires_at, zone),
        qr=qr_svg(view.coupon.code),
    )


def _unsubscribe_link(request: Request, member_id: uuid.UUID) -> str | None:
    secret = secret_of(request)
    if not secret:
        return None
    return unsubscribe_url(settings_of(request).messaging.public_url, secret, member_id, Channel.EMAIL)


async def _preferences_page(
    request: Request, session: SessionDep, who: PortalMember, *, notice: str | None = None, status_code: int = 200
) -> Response:
    member = await members.get(session, who.member_id)
    locale = i18n.choose(request, member.locale)
    return render(
        request,
        "preferences.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        member=member,
        unsubscribe=_unsubscribe_link(request, member.id),
        notice=notice,
    )


@router.get("/preferences")
async def preferences(request: Request, session: SessionDep, who: MemberDep, saved: str | None = None) -> Response:
    locale, _ = await _locale(request, session, who)
    notice = i18n.translator(locale)("saved") if saved else None
    return await _preferences_page(request, session, who, notice=notice)


@router.post("/preferences")
async def save_preferences(request: Request, session: SessionDep, who: MemberDep) -> Response:
    try:
        form = await read_form(request)
    except FormError:
        form = {}
    if not csrf_ok(form, who):
        locale, _ = await _locale(request, session, who)
        t = i18n.translator(locale)
        return render(request, "message.html", locale=locale, status_code=403, title=t("form_expired"), text="")
    wanted = {Channel.EMAIL: form.get("email") == "on", Channel.SMS: form.get("sms") == "on"}
    await account.set_consent(session, who.member_id, wanted, now=now(request))
    await commit(session)
    return RedirectResponse("/portal/preferences?saved=1", status_code=303)
