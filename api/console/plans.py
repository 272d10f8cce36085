"""Paid plans (admin): the list with each plan's paid members, adding a plan and changing one, from a form (no
JSON); the service's problems are shown beside the inputs they are about. Every change is audited."""

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
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import AppError, NotFound, problem_message
from models import Plan
from services import plans
from services.analytics import kpis
from services.analytics.kpis import Period
from services.rewards import coupons

router = APIRouter()
Problems = list[dict[str, str]]
_TEXT = ("code", "name_en", "name_zh_cn", "price", "currency", "sku", "term_months", "earn_multiplier")


def _fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's body: empty coupon means none; check boxes are present or not."""
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in _TEXT}
    values["monthly_coupon"] = form.get("monthly_coupon", "").strip() or None
    values["free_shipping"] = form.get("free_shipping") == "1"
    values["active"] = form.get("active") == "1"
    values["refund_on_cancel"] = form.get("refund_on_cancel", "none")
    return values


def _values(plan: Plan) -> dict[str, str]:
    return {
        **{name: str(getattr(plan, name)) for name in _TEXT},
        "monthly_coupon": plan.monthly_coupon or "",
        "free_shipping": "1" if plan.free_shipping else "",
        "active": "1" if plan.active else "",
        "refund_on_cancel": plan.refund_on_cancel,
    }


def _problems(exc: ValidationError | AppError) -> Problems:
    if isinstance(exc, ValidationError):
        return [{"field": ".".join(str(p) for p in e["loc"]), "message": problem_message(e)} for e in exc.errors()]
    details = exc.details if isinstance(exc.details, list) else []
    found = [
        {"field": str(d.get("field", "")).removeprefix("body."), "message": str(d.get("message", ""))} for d in details
    ]
    return found or [{"field": "sku" if "sku" in exc.code else "code", "message": exc.message}]


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    editing: Plan | None = None,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    report = await kpis.paid_plans(session, Period.of(None, None, None))
    problems = problems or []
    return render(
        request,
        "plans.html",
        status_code=status_code,
        user=user,
        active="plans",
        rows=[
            (plan, next((s for s in report.plans if s.plan == plan.code), None))
            for plan in await plans.listing(session)
        ],
        editing=editing,
        values=values or (_values(editing) if editing else {"active": "1", "term_months": "12", "currency": "CNY"}),
        problems=problems,
        bad_inputs={p["field"] for p in problems},
        templates=[t.code for t in await coupons.list_templates(session)],
    )


@router.get("/plans", response_class=HTMLResponse)
async def plan_list(request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("plans")]) -> Response:
    return await _page(request, session, user)


@router.post("/plans", response_class=HTMLResponse)
async def plan_create(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("plans")]
) -> Response:
    form = await checked_form(request, user)
    try:
        plan = await plans.create(session, plans.PlanCreate.model_validate(_fields(form)), actor=user.actor)
        code = plan.code
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        return await _page(request, session, user, values=form, problems=_problems(exc), status_code=status)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/plans", f"Plan {code} added."), status_code=303)


async def _plan(session: AsyncSession, plan_id: str) -> Plan | None:
    try:
        return await plans.get_plan(session, uuid.UUID(plan_id))
    except (ValueError, NotFound):
        return None


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_view(
    request: Request, plan_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("plans")]
) -> Response:
    plan = await _plan(session, plan_id)
    if plan is None:
        return render(request, "not_found.html", status_code=404, user=user, what="plan")
    return await _page(request, session, user, editing=plan)


@router.post("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_update(
    request: Request, plan_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("plans")]
) -> Response:
    form = await checked_form(request, user)
    plan = await _plan(session, plan_id)
    if plan is None:
        return render(request, "not_found.html", status_code=404, user=user, what="plan")
    fields = {k: v for k, v in _fields(form).items() if k != "code"}
    try:
        await plans.update(session, plan.id, plans.PlanUpdate.model_validate(fields), actor=user.actor)
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        plan = await plans.get_plan(session, plan.id)
        values = {**form, "code": plan.code}
        return await _page(
            request, session, user, editing=plan, values=values, problems=_problems(exc), status_code=status
        )
    await commit(session)
    stamp = datetime.now(UTC).strftime("%H:%M")
    return RedirectResponse(flash_to(request, "/console/plans", f"Plan {plan.code} saved at {stamp}."), status_code=303)
