"""Challenges (marketers): the list with each challenge's participants and completions, a form to define one
and the edit form. Plain form fields, no JSON: the window is a kind and its numbers or dates, each kind of goal
is one input (left empty: not a goal), the reward is points and a coupon template, the badge an icon from the
fixed set. Saved through services.challenges, which audits the change."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, render
from api.deps import SessionDep
from core.errors import AppError, InvalidInput, NotFound, problem_message
from models import Challenge
from services import challenges
from services.challenges import BADGE_ICONS, ChallengeDefinition, Enrolment, GoalKind
from services.challenges.definition import Code
from services.rewards import coupons

router = APIRouter()
Problems = list[dict[str, str]]
WINDOW_KINDS = ("relative", "month", "dates")
_WINDOW_INPUTS = {"days": "window_days", "month": "window_month", "start": "window_start", "end": "window_end"}
_BADGE_INPUTS = ("code", "name_en", "name_zh_cn", "icon")
_CODE: TypeAdapter[str] = TypeAdapter(Code)


def _goals(form: dict[str, str]) -> list[dict[str, str]]:
    goals = []
    for kind in GoalKind:
        value = form.get(f"goal_{kind.value}", "").strip()
        if kind == GoalKind.PROFILE_COMPLETED:
            if value == "1":
                goals.append({"kind": kind.value})
        elif value:
            goals.append({"kind": kind.value, "target": value})
    return goals


def _window(form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("window_kind", "")
    value = {name: form.get(inp, "").strip() or None for name, inp in _WINDOW_INPUTS.items()}
    if kind == "relative":
        return {"kind": kind, "days": value["days"]}
    if kind == "month":
        return {"kind": kind} | ({"month": value["month"]} if value["month"] else {})
    if kind == "dates":
        return {"kind": kind, "start": value["start"], "end": value["end"]}
    return {"kind": kind}


def _definition(form: dict[str, str]) -> dict[str, Any]:
    """The form as a definition; left to ChallengeDefinition to judge."""
    raw: dict[str, Any] = {
        "title_en": form.get("title_en", ""),
        "title_zh_cn": form.get("title_zh_cn", ""),
        "enrolment": form.get("enrolment", ""),
        "window": _window(form),
        "goals": _goals(form),
        "reward": {"points": form.get("reward_points", "").strip() or 0},
    }
    if form.get("reward_coupon", "").strip():
        raw["reward"]["coupon"] = form["reward_coupon"].strip()
    badge = {name: form.get(f"badge_{name}", "").strip() for name in _BADGE_INPUTS}
    if badge["code"] or badge["name_en"] or badge["name_zh_cn"]:
        raw["badge"] = badge
    return raw


def _input_for(location: list[str]) -> str:
    """The form input a problem's location names: `window.relative.days` is window_days, `goals.1` the second
    goal's input, `badge.icon` badge_icon."""
    head, rest = (location[0], location[1:]) if location else ("", [])
    if head == "window":
        return next((_WINDOW_INPUTS[part] for part in rest if part in _WINDOW_INPUTS), "window_kind")
    if head == "goals":
        return "goals"
    if head in ("reward", "badge") and rest:
        return f"{head}_{rest[0]}"
    if head == "reward":  # neither points nor a coupon
        return "reward_points"
    return head or "enrolment"  # the definition as a whole: how members join does not fit its window


def _problems(exc: ValidationError | AppError, form: dict[str, str]) -> Problems:
    if isinstance(exc, ValidationError):
        found = []
        goals = _goals(form)
        for err in exc.errors():
            location = [str(part) for part in err["loc"]]
            name = _input_for(location)
            if name == "goals" and len(location) > 1 and location[1].isdigit() and int(location[1]) < len(goals):
                name = f"goal_{goals[int(location[1])]['kind']}"
            found.append({"field": name, "message": problem_message(err)})
        return found
    details = exc.details if isinstance(exc.details, list) else []
    problems = []
    for detail in details:
        location = str(detail.get("field", "")).removeprefix("body.").removeprefix("definition.").split(".")
        problems.append({"field": _input_for(location), "message": str(detail.get("message", ""))})
    return problems or [{"field": "code", "message": exc.message}]


def _values(challenge: Challenge) -> dict[str, str]:
    definition = challenges.parse(challenge.definition)
    window = definition.window.model_dump(mode="json")
    values = {
        "code": challenge.code,
        "active": "1" if challenge.active else "",
        "title_en": definition.title_en,
        "title_zh_cn": definition.title_zh_cn,
        "enrolment": definition.enrolment.value,
        "window_kind": window["kind"],
        "reward_points": str(definition.reward.points or ""),
        "reward_coupon": definition.reward.coupon or "",
    }
    values |= {name: str(window[key]) for key, name in _WINDOW_INPUTS.items() if window.get(key) is not None}
    for goal in definition.goals:
        target = "1" if goal.kind == GoalKind.PROFILE_COMPLETED else challenges.number(goal.target)
        values[f"goal_{goal.kind.value}"] = target
    if definition.badge is not None:
        values |= {f"badge_{name}": getattr(definition.badge, name) for name in _BADGE_INPUTS}
    return values


async def _context(session: SessionDep, problems: Problems, values: dict[str, str]) -> dict[str, Any]:
    return {
        "problems": problems,
        "bad_inputs": {p["field"] for p in problems},
        "values": values,
        "enrolments": list(Enrolment),
        "window_kinds": WINDOW_KINDS,
        "goal_kinds": list(GoalKind),
        "icons": BADGE_ICONS,
        "templates": [t.code for t in await coupons.list_templates(session) if t.active],
    }


async def _list_page(
    request: Request,
    session: SessionDep,
    user: ConsoleUser,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    defaults = {"enrolment": "opt_in", "window_kind": "relative", "window_days": "30", "active": "1"}
    context = await _context(session, problems or [], values or defaults)
    rows = await challenges.summaries(session)
    return render(request, "challenges.html", status_code=status_code, user=user, rows=rows, **context)


async def _challenge_page(
    request: Request,
    session: SessionDep,
    user: ConsoleUser,
    challenge_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        summary = await challenges.summary(session, challenge_id)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="challenge")
    context = await _context(session, problems or [], values or _values(summary.challenge))
    return render(
        request, "challenge.html", status_code=status_code, user=user, active="challenges", summary=summary, **context
    )


@router.get("/challenges", response_class=HTMLResponse)
async def challenge_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("challenges")]
) -> HTMLResponse:
    return await _list_page(request, session, user)


@router.post("/challenges", response_class=HTMLResponse)
async def challenge_create(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("challenges")]
) -> Response:
    form = await checked_form(request, user)
    try:
        code = _code(form)
        definition = ChallengeDefinition.model_validate(_definition(form))
        made = await challenges.create(session, code, definition, active=form.get("active") == "1", actor=user.actor)
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = exc.status_code if isinstance(exc, AppError) else 422
        return await _list_page(request, session, user, values=form, problems=_problems(exc, form), status_code=status)
    target = f"/console/challenges/{made.id}"
    await commit(session)
    return RedirectResponse(flash_to(request, target, f"Challenge {code} added."), status_code=303)


def _code(form: dict[str, str]) -> str:
    try:
        return _CODE.validate_python(form.get("code", ""))
    except ValidationError as exc:
        message = "lower-case letters, digits and _, 2 to 64 of them"
        raise InvalidInput(message, details=[{"field": "body.code", "message": message}]) from exc


@router.get("/challenges/{challenge_id}", response_class=HTMLResponse)
async def challenge_view(
    request: Request,
    challenge_id: uuid.UUID,
    session: SessionDep,
    user: Annotated[ConsoleUser, require("challenges")],
) -> HTMLResponse:
    return await _challenge_page(request, session, user, challenge_id)


@router.post("/challenges/{challenge_id}", response_class=HTMLResponse)
async def challenge_update(
    request: Request,
    challenge_id: uuid.UUID,
    session: SessionDep,
    user: Annotated[ConsoleUser, require("challenges")],
) -> Response:
    form = await checked_form(request, user)
    try:
        definition = ChallengeDefinition.model_validate(_definition(form))
        await challenges.update(session, challenge_id, definition, active=form.get("active") == "1", actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="challenge")
    except (ValidationError, AppError) as exc:
        await session.rollback()
        status = exc.status_code if isinstance(exc, AppError) else 422
        return await _challenge_page(
            request, session, user, challenge_id, values=form, problems=_problems(exc, form), status_code=status
        )
    await commit(session)
    target = f"/console/challenges/{challenge_id}"
    return RedirectResponse(flash_to(request, target, "Challenge saved."), status_code=303)
