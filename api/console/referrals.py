"""The referral programme (admin, marketer): one form for the return window, the monthly limit per referrer
and each side's reward (points, or a coupon template), saved without JSON and audited as
`referral_programme.update`; beside it the last 90 days' referral KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, problem_lines, render
from api.deps import SessionDep
from core.errors import AppError
from services import referrals
from services.analytics import kpis
from services.rewards import coupons

router = APIRouter()
WINDOW_DAYS = 90
FIELDS = (
    "return_window_days monthly_limit referrer_reward referrer_points referrer_coupon referee_reward "
    "referee_points referee_coupon"
).split()


def _values_of(row: Any) -> dict[str, str]:
    values = {name: "" if getattr(row, name) is None else str(getattr(row, name)) for name in FIELDS}
    values["active"] = "on" if row.active else ""
    return values


def _body(form: dict[str, str]) -> dict[str, Any]:
    """The form as the programme's model takes it: empty fields are left out (so a points side needs no
    template and the model's own messages name what is missing)."""
    body: dict[str, Any] = {name: form[name].strip() for name in FIELDS if form.get(name, "").strip()}
    body["active"] = form.get("active") == "on"
    return body


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    today = datetime.now(UTC).date()
    report = await kpis.referral_report(session, kpis.Period.of(today - timedelta(days=WINDOW_DAYS - 1), today, None))
    templates = [t.code for t in await coupons.list_templates(session) if t.active]
    return render(
        request,
        "referrals.html",
        status_code=status_code,
        user=user,
        values=values or _values_of(await referrals.get(session)),
        templates=templates,
        report=report,
        days=WINDOW_DAYS,
        problems=problems or [],
    )


@router.get("/referrals", response_class=HTMLResponse)
async def programme_page(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("referrals")]
) -> Response:
    return await _page(request, session, user)


@router.post("/referrals", response_class=HTMLResponse)
async def programme_save(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("referrals")]
) -> Response:
    form = await checked_form(request, user)
    try:
        body = referrals.ProgrammeUpdate.model_validate(_body(form))
    except ValidationError as exc:
        problems = problem_lines(exc)
        return await _page(request, session, user, problems=problems, values=form, status_code=422)
    try:
        await referrals.update(session, body, actor=user.actor)
    except AppError as exc:
        await session.rollback()
        return await _page(request, session, user, problems=[exc.message], values=form, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/referrals", "Referral programme saved."), status_code=303)
