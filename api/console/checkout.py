"""Points at checkout (admin): the programme's rate, cap, minimum and hold time as a plain form, with a worked
example of what they give, and the checkouts holding points right now. A change is audited as
`checkout_settings.update` by the service. The same page sets the expiry reminders' lead days (a second form,
audited as `points_settings.update`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, problem_lines, render
from api.deps import SessionDep
from core.errors import AppError
from models import Checkout
from services.loyalty import checkout_rate, expiry_reminders

router = APIRouter()
EXAMPLE_ORDER = Decimal("200.00")
FIELDS = ("currency", "points_per_unit", "unit_value", "max_percent", "min_points", "hold_minutes")
LEAD_FIELDS = tuple(f"lead_{n}" for n in range(1, expiry_reminders.MAX_LEADS + 1))


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    lead_problems: list[str] | None = None,
    lead_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rate = await checkout_rate.current(session)
    reminders = await expiry_reminders.current(session)
    leads = dict(zip(LEAD_FIELDS, [str(days) for days in reminders.days] + [""] * len(LEAD_FIELDS), strict=False))
    cap = checkout_rate.cap_points(EXAMPLE_ORDER, rate)
    held = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Checkout.points), 0)).where(Checkout.status == "held")
        )
    ).one()
    current = {name: str(getattr(rate, name)) for name in FIELDS} | {"enabled": "on" if rate.enabled else ""}
    return render(
        request,
        "checkout.html",
        status_code=status_code,
        user=user,
        rate=rate,
        values=values if values is not None else current,
        problems=problems or [],
        example={"amount": EXAMPLE_ORDER, "cap": cap, "value": checkout_rate.value_of(cap, rate)},
        open_checkouts=held[0],
        open_points=held[1],
        reminders=reminders,
        lead_fields=LEAD_FIELDS,
        lead_values=lead_values if lead_values is not None else leads,
        lead_problems=lead_problems or [],
    )


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("checkout")]
) -> Response:
    return await _page(request, session, user)


@router.post("/checkout", response_class=HTMLResponse)
async def checkout_save(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("checkout")]
) -> Response:
    form = await checked_form(request, user)
    try:
        body = checkout_rate.RateUpdate.model_validate(
            {name: form.get(name, "") for name in FIELDS} | {"enabled": form.get("enabled") == "on"}
        )
    except ValidationError as exc:
        problems = problem_lines(exc)
        return await _page(request, session, user, problems=problems, values=form, status_code=422)
    try:
        await checkout_rate.update(session, body, actor=user.actor)
    except AppError as exc:
        await session.rollback()
        return await _page(request, session, user, problems=[exc.message], values=form, status_code=exc.status_code)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/checkout", "Points at checkout saved."), status_code=303)


def _leads_of(form: dict[str, str]) -> list[str]:
    """The filled-in lead boxes, in order, as typed (the model parses them and says what is wrong)."""
    return [value for name in LEAD_FIELDS if (value := form.get(name, "").strip())]


@router.post("/checkout/expiry-reminders", response_class=HTMLResponse)
async def expiry_reminders_save(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("checkout")]
) -> Response:
    form = await checked_form(request, user)
    try:
        body = expiry_reminders.RemindersUpdate.model_validate({"days": _leads_of(form)})
    except ValidationError as exc:
        problems = problem_lines(exc, label="lead days")
        return await _page(request, session, user, lead_problems=problems, lead_values=form, status_code=422)
    await expiry_reminders.update(session, body, actor=user.actor)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/checkout", "Expiry reminders saved."), status_code=303)
