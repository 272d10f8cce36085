"""Tiers: the ladder and its qualification policy as forms (no JSON), with the policy's dry run before saving.

Marketers read both and run the dry run on the values they type; admins also save the policy and the ladder,
as the API's routes allow (api/routes/tiers.py). A save is audited once by the service; bad input re-renders
the page with the problems beside the inputs and keeps what was typed. The dry run changes nothing."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console import charts
from api.console.auth import ConsoleUser, WrongRole, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import AppError, problem_message
from models import Tier
from services.loyalty import tier_policy, tier_reviews, tiers
from services.loyalty.tier_policy import Basis, ReviewRule, TierPolicyIn
from services.loyalty.tiers import MAX_TIERS, Ladder
from services.platform.api_keys import Role

router = APIRouter()
Problems = list[dict[str, str]]
POLICY_FIELDS = tuple(TierPolicyIn.model_fields)
TIER_FIELDS = ("code", "name", "min_spend_exclusive", "earn_multiplier", "benefits")
BENEFIT_SEPARATOR = ";"
# The form has one row per tier and one blank row to add a tier; a cleared row removes its tier.
LADDER_FORM_FIELDS = 1 + (MAX_TIERS + 1) * len(TIER_FIELDS)
MONTHS = [(number, calendar.month_name[number]) for number in range(1, 13)]
OUTCOME_PARTS = (("rise", charts.PALETTE[1]), ("keep", charts.PALETTE[6]), ("fall", charts.PALETTE[3]))


def _admin(user: ConsoleUser) -> ConsoleUser:
    if user.role != Role.ADMIN.value:
        raise WrongRole(user, "tiers")
    return user


def _policy_values(policy: TierPolicyIn) -> dict[str, str]:
    return {name: str(value) for name, value in policy.model_dump(mode="json").items()}


def _tier_values(ladder: list[Tier]) -> list[dict[str, str]]:
    rows = [
        {
            "code": t.code,
            "name": t.name,
            "min_spend_exclusive": str(t.min_spend_exclusive),
            "earn_multiplier": str(t.earn_multiplier),
            "benefits": f"{BENEFIT_SEPARATOR} ".join(t.benefits),
        }
        for t in ladder
    ]
    return [*rows, dict.fromkeys(TIER_FIELDS, "")]


def _typed_tiers(form: dict[str, str]) -> list[dict[str, str]]:
    """The ladder's rows as typed, in order, without the rows left wholly blank."""
    rows = [{name: form.get(f"tier-{i}-{name}", "").strip() for name in TIER_FIELDS} for i in range(MAX_TIERS + 1)]
    return [row for row in rows if any(row.values())]


def _ladder_body(rows: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "tiers": [
            {
                **{name: row[name] for name in TIER_FIELDS if name != "benefits"},
                "benefits": [b.strip() for b in row["benefits"].split(BENEFIT_SEPARATOR) if b.strip()],
            }
            for row in rows
        ]
    }


def _problems(exc: ValidationError | AppError, prefix: str = "") -> Problems:
    """Each problem named by the form input it is about (`review_day`, `tier-1-min_spend_exclusive`)."""
    if isinstance(exc, ValidationError):
        found = [([str(p) for p in e["loc"]], problem_message(e)) for e in exc.errors()]
    else:
        details = exc.details if isinstance(exc.details, list) else []
        found = [(str(d.get("field", "")).removeprefix("body.").split("."), str(d.get("message", ""))) for d in details]
        if not found:  # a tier members still hold: the counts are a mapping of tier to members
            held = exc.details if isinstance(exc.details, dict) else {}
            counts = ", ".join(f"{code} ({count:,})" for code, count in held.items())
            found = [([], f"{exc.message}: {counts}" if counts else exc.message)]
    problems = []
    for parts, message in found:
        if parts[:1] == ["tiers"] and len(parts) >= 3:
            name = f"tier-{parts[1]}-{parts[2]}"
        else:
            name = ".".join(parts) or prefix
        problems.append({"field": name, "message": message})
    return problems


async def _page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    *,
    policy: dict[str, str] | None = None,
    ladder: list[dict[str, str]] | None = None,
    problems: Problems | None = None,
    forecast: list[tier_reviews.TierForecast] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = await tiers.ladder(session)
    saved = await tier_policy.get(session)
    problems = problems or []
    return render(
        request,
        "tiers.html",
        status_code=status_code,
        user=user,
        active="tiers",
        tiers=current,
        saved=saved,
        saved_label=tier_policy.label(tier_policy.as_input(saved)),
        policy=policy or _policy_values(tier_policy.as_input(saved)),
        ladder=ladder if ladder is not None else _tier_values(current),
        problems=problems,
        bad_inputs={p["field"] for p in problems},
        forecast=forecast,
        forecast_chart=_chart(forecast) if forecast is not None else None,
        can_edit=user.role == Role.ADMIN.value,
        bases=list(Basis),
        rules=list(ReviewRule),
        months=MONTHS,
    )


def _chart(forecast: list[tier_reviews.TierForecast]) -> Markup:
    rows = [(f.tier, (f.rise, f.keep, f.fall)) for f in forecast]
    return charts.stacked(rows, parts=OUTCOME_PARTS, label="Members who would rise, keep or fall, by tier")


def _typed_policy(form: dict[str, str]) -> dict[str, str]:
    return {name: form.get(name, "").strip() for name in POLICY_FIELDS}


@router.get("/tiers", response_class=HTMLResponse)
async def tiers_page(request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tiers")]) -> Response:
    return await _page(request, session, user)


@router.post("/tiers/dry-run", response_class=HTMLResponse)
async def tiers_dry_run(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tiers")]
) -> Response:
    """How many of each tier would rise, keep or fall at their next review under the typed values."""
    typed = _typed_policy(await checked_form(request, user))
    try:
        proposed = TierPolicyIn.model_validate(typed)
    except ValidationError as exc:
        return await _page(request, session, user, policy=typed, problems=_problems(exc), status_code=422)
    forecast = await tier_reviews.dry_run(session, proposed, today=datetime.now(UTC).date())
    return await _page(request, session, user, policy=typed, forecast=forecast)


@router.post("/tiers/policy", response_class=HTMLResponse)
async def tiers_policy_save(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tiers")]
) -> Response:
    _admin(user)
    typed = _typed_policy(await checked_form(request, user))
    try:
        await tier_policy.update(session, TierPolicyIn.model_validate(typed), actor=user.actor)
    except ValidationError as exc:
        await session.rollback()
        return await _page(request, session, user, policy=typed, problems=_problems(exc), status_code=422)
    await commit(session)
    message = "Qualification policy saved: it applies from each member's next review; no tier changed now."
    return RedirectResponse(flash_to(request, "/console/tiers", message), status_code=303)


@router.post("/tiers/ladder", response_class=HTMLResponse)
async def tiers_ladder_save(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tiers")]
) -> Response:
    _admin(user)
    typed = _typed_tiers(await checked_form(request, user, max_fields=LADDER_FORM_FIELDS))
    try:
        await tiers.replace(session, Ladder.model_validate(_ladder_body(typed)), actor=user.actor)
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = 422 if isinstance(exc, ValidationError) else exc.status_code
        rows = [*typed, dict.fromkeys(TIER_FIELDS, "")]
        problems = _problems(exc, prefix="ladder")
        return await _page(request, session, user, ladder=rows, problems=problems, status_code=status)
    await commit(session)
    return RedirectResponse(flash_to(request, "/console/tiers", "Tier ladder saved."), status_code=303)
