"""The reward catalog with one-tap redemption, a redemption's page (with the withdraw button while it is under
review) and the daily check-in with its streak.

Every form carries the session's CSRF token; a redeem form also carries a token of its own, the Idempotency-Key
of services.portal.catalog, so a second tap of the same button shows the first redemption. A refusal (not
enough points, a reward gone, inactive or sold out, a redemption already decided, a second check-in today) is
the page again with a message saying so, after a rollback: nothing changes."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.boundary import commit
from api.deps import SessionDep, TemporalDep
from api.portal import i18n
from api.portal.render import FormError, read_form, render
from api.portal.session import MemberDep, PortalMember, csrf_ok, now, settings_of
from core.errors import AppError, NotFound
from services import members
from services.portal import catalog, checkin

router = APIRouter()

# What each refusal of a redemption says to the member.
_REFUSALS = {
    "insufficient_points": "insufficient_points",
    "reward_not_found": "reward_gone",
    "reward_inactive": "reward_gone",
    "out_of_stock": "reward_sold_out",
    "idempotency_conflict": "form_used",
    "invalid_form_token": "form_used",
    "already_decided": "already_decided",
}


async def _locale(request: Request, session: SessionDep, who: PortalMember) -> str:
    return i18n.choose(request, (await members.get(session, who.member_id)).locale)


def _expired_form(request: Request, locale: str) -> Response:
    t = i18n.translator(locale)
    return render(request, "message.html", locale=locale, status_code=403, title=t("form_expired"), text="")


def _not_found(request: Request, who: PortalMember, locale: str, title_key: str) -> Response:
    t = i18n.translator(locale)
    return render(
        request,
        "message.html",
        locale=locale,
        status_code=404,
        signed_in=True,
        csrf=who.csrf,
        title=t(title_key),
        text=t("not_found"),
    )


async def _form(request: Request) -> dict[str, str]:
    try:
        return await read_form(request)
    except FormError:
        return {}


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def _catalog_page(
    request: Request, session: SessionDep, who: PortalMember, *, error: str | None = None, status_code: int = 200
) -> Response:
    locale = await _locale(request, session, who)
    view = await catalog.catalog(session, who.member_id)
    return render(
        request,
        "rewards.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        error=error,
        view=view,
        tokens={item.reward.id: secrets.token_urlsafe(18) for item in view.items},
        redemptions=await catalog.recent(session, who.member_id),
    )


@router.get("/rewards")
async def rewards_page(request: Request, session: SessionDep, who: MemberDep) -> Response:
    return await _catalog_page(request, session, who)


@router.post("/rewards/{reward_id}/redeem")
async def redeem(request: Request, session: SessionDep, who: MemberDep, reward_id: str) -> Response:
    form = await _form(request)
    if not csrf_ok(form, who):
        return _expired_form(request, await _locale(request, session, who))
    wanted = _uuid(reward_id)
    try:
        if wanted is None:
            raise NotFound("there is no such reward", code="reward_not_found")
        redemption, _ = await catalog.redeem(
            session,
            who.member_id,
            wanted,
            form_token=form.get("form_token", ""),
            task_queue=settings_of(request).temporal.task_queue,
        )
    except AppError as exc:
        await session.rollback()
        locale = await _locale(request, session, who)
        message = i18n.translator(locale)(_REFUSALS.get(exc.code, "reward_gone"))
        return await _catalog_page(request, session, who, error=message, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(f"/portal/redemptions/{redemption.id}", status_code=303)


async def _redemption_page(
    request: Request,
    session: SessionDep,
    who: PortalMember,
    redemption_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    locale = await _locale(request, session, who)
    wanted = _uuid(redemption_id)
    try:
        if wanted is None:
            raise NotFound("there is no such redemption", code="redemption_not_found")
        redemption = await catalog.own_redemption(session, who.member_id, wanted)
    except NotFound:
        return _not_found(request, who, locale, "redemption_title")
    return render(
        request,
        "redemption.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        error=error,
        active="rewards",
        redemption=redemption,
        reward_name=await catalog.reward_name(session, redemption.reward_id),
        **context,
    )


@router.get("/redemptions/{redemption_id}")
async def redemption_page(request: Request, session: SessionDep, who: MemberDep, redemption_id: str) -> Response:
    return await _redemption_page(request, session, who, redemption_id)


@router.post("/redemptions/{redemption_id}/withdraw")
async def withdraw(
    request: Request, session: SessionDep, who: MemberDep, temporal: TemporalDep, redemption_id: str
) -> Response:
    form = await _form(request)
    if not csrf_ok(form, who):
        return _expired_form(request, await _locale(request, session, who))
    wanted = _uuid(redemption_id)
    try:
        if wanted is None:
            raise NotFound("there is no such redemption", code="redemption_not_found")
        await catalog.withdraw(session, temporal, who.member_id, wanted)
    except NotFound:
        return _not_found(request, who, await _locale(request, session, who), "redemption_title")
    except AppError as exc:
        await session.rollback()
        message = i18n.translator(await _locale(request, session, who))(_REFUSALS.get(exc.code, "already_decided"))
        return await _redemption_page(request, session, who, redemption_id, error=message, status_code=409)
    return RedirectResponse(f"/portal/redemptions/{wanted}", status_code=303)


# --- daily check-in -------------------------------------------------------------------------------------


async def _check_in_page(
    request: Request,
    session: SessionDep,
    who: PortalMember,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = await _locale(request, session, who)
    settings = settings_of(request)
    state = await checkin.state(session, who.member_id, now=now(request), settings=settings.portal)
    return render(
        request,
        "check_in.html",
        locale=locale,
        status_code=status_code,
        signed_in=True,
        csrf=who.csrf,
        notice=notice,
        error=error,
        state=state,
        award=settings.points.awards.get("checked_in", 0),
        every=settings.portal.check_in_streak_days,
        bonus=settings.portal.check_in_streak_bonus,
    )


Points = Annotated[int | None, Query(ge=0, le=1_000_000)]


@router.get("/check-in")
async def check_in_page(
    request: Request, session: SessionDep, who: MemberDep, points: Points = None, bonus: Points = None
) -> Response:
    notice = None
    if points is not None:
        t = i18n.translator(await _locale(request, session, who))
        notice = t("checked_in", points=points) + (" " + t("streak_bonus", points=bonus) if bonus else "")
    return await _check_in_page(request, session, who, notice=notice)


@router.post("/check-in")
async def check_in(request: Request, session: SessionDep, who: MemberDep) -> Response:
    form = await _form(request)
    if not csrf_ok(form, who):
        return _expired_form(request, await _locale(request, session, who))
    settings = settings_of(request)
    try:
        done = await checkin.check_in(
            session, who.member_id, now=now(request), settings=settings.portal, task_queue=settings.temporal.task_queue
        )
    except AppError as exc:
        await session.rollback()
        message = i18n.translator(await _locale(request, session, who))("already_checked_in")
        return await _check_in_page(request, session, who, error=message, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(f"/portal/check-in?points={done.points}&bonus={done.bonus}", status_code=303)
