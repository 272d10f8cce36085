"""The rule builder's server side: the New rule page, and the console JSON calls its form makes (validate as the
marketer edits, save as a new rule or a new version, dry run the draft, find a sample member).

The calls take the same rule body as `/api/v1/rules` and answer with the same problems (`body.actions.0...`),
so the builder marks the field at fault with the API's own words, and a refused save changes nothing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.builder import checked_json
from api.console.render import flash_to, read_definition, render
from api.deps import SessionDep, SettingsDep
from api.schemas.rules import DryRunIn
from core.errors import AppError, InvalidInput, problem_message
from models import Rule
from services import members, rules

router = APIRouter()
RulesUser = Annotated[ConsoleUser, require("rules")]
SAMPLE_MEMBERS = 10
# A draft as a new marketer starts it: the order trigger, no conditions, one fixed grant.
STARTER: dict[str, Any] = {
    "name": "",
    "trigger": {"event": "order_completed"},
    "actions": [{"grant_points": {"points": 10}}],
    "priority": 100,
    "limit": "none",
    "stop_processing": False,
    "enabled": True,
}


def builder_boot(rule: Rule | None, definition: dict[str, Any] | None) -> dict[str, Any]:
    """What the builder's page embeds for it: the draft to start from (with whether the rule is enabled,
    which a version does not hold) and the rule it publishes to, if any. Pickers come from the catalog."""
    return {
        "rule_id": str(rule.id) if rule is not None else None,
        "definition": {**definition, "enabled": rule.enabled} if rule is not None and definition else dict(STARTER),
    }


# --- pages -----------------------------------------------------------------------------------------------


@router.get("/rules/new", response_class=HTMLResponse)
async def new_rule_page(request: Request, user: RulesUser) -> HTMLResponse:
    return _new_page(request, user)


def _new_page(
    request: Request,
    user: ConsoleUser,
    *,
    draft: str | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "rule_new.html",
        status_code=status_code,
        user=user,
        active="rules",
        builder=builder_boot(None, None),
        draft=draft or "",
        problems=problems or [],
    )


@router.post("/rules/new", response_class=HTMLResponse)
async def new_rule_from_json(request: Request, session: SessionDep, user: RulesUser) -> Response:
    """The Advanced (JSON) tab's form: create the rule from the typed definition, or show why not."""
    form = await checked_form(request, user)
    draft = form.get("definition", "")
    raw, problems = read_definition(draft)
    if raw is not None:
        try:
            rule = await rules.create(session, rules.parse(raw), actor=user.actor)
            rule_id = rule.id
            await commit(session)
            return RedirectResponse(flash_to(request, f"/console/rules/{rule_id}", "Rule created."), status_code=303)
        except AppError as exc:
            problems = _problems(exc) or [{"field": "definition", "message": exc.message}]
    await session.rollback()
    return _new_page(request, user, draft=draft, problems=problems, status_code=422)


def _problems(exc: AppError) -> list[dict[str, str]]:
    details = exc.details if isinstance(exc.details, list) else []
    return [{"field": str(d.get("field", "")), "message": str(d.get("message", ""))} for d in details]


# --- JSON calls ------------------------------------------------------------------------------------------


@router.post("/api/rules/validate")
async def validate_draft(request: Request, session: SessionDep, user: RulesUser) -> dict[str, Any]:
    """The problems of a draft, as `POST /api/v1/rules/validate` gives them; a bad draft is an answer here."""
    body = await checked_json(request, user)
    try:
        definition = rules.parse(body)
    except AppError as exc:
        return {"valid": False, "problems": _problems(exc)}
    problems = [{"field": f"body.{p.path}", "message": p.message} for p in await rules.check(session, definition)]
    return {"valid": not problems, "problems": problems}


def _saved(request: Request, rule: Rule, message: str) -> dict[str, Any]:
    """The saved rule, and the page to go to next (the rule's own, saying what happened)."""
    return {
        "id": str(rule.id),
        "name": rule.name,
        "version": rule.current_version,
        "enabled": rule.enabled,
        "url": flash_to(request, f"/console/rules/{rule.id}", message),
    }


@router.post("/api/rules", status_code=201)
async def create_rule(request: Request, session: SessionDep, user: RulesUser) -> dict[str, Any]:
    body = await checked_json(request, user)
    rule = await rules.create(session, rules.parse(body), actor=user.actor)
    out = _saved(request, rule, "Rule created.")
    await commit(session)
    return out


@router.put("/api/rules/{rule_id}")
async def publish_rule(rule_id: uuid.UUID, request: Request, session: SessionDep, user: RulesUser) -> dict[str, Any]:
    """A new version of the rule, current at once (as `PUT /api/v1/rules/{id}`)."""
    body = await checked_json(request, user)
    rule = await rules.publish(session, rule_id, rules.parse(body), actor=user.actor)
    out = _saved(request, rule, f"Published version {rule.current_version}.")
    await commit(session)
    return out


def _dry_run_input(body: dict[str, Any]) -> DryRunIn:
    try:
        return DryRunIn.model_validate(body)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in ("body", *err["loc"])),
                "message": problem_message(err),
            }
            for err in exc.errors()
        ]
        raise InvalidInput("the sample event is invalid", code="invalid_sample", details=details) from exc


@router.post("/api/rules/dry-run")
async def dry_run(request: Request, session: SessionDep, settings: SettingsDep, user: RulesUser) -> dict[str, Any]:
    """The draft with the saved rules of its trigger against a sample event: what would fire, and why the
    others would not. Reads only; the session is never committed."""
    body = _dry_run_input(await checked_json(request, user))
    draft = rules.parse(body.rule, prefix="body.rule") if body.rule is not None else None
    evaluation = await rules.dry_run(session, body.event, draft, task_queue=settings.temporal.task_queue)
    verdicts = [
        {
            "rule_id": str(v.rule_id) if v.version else None,
            "name": v.name,
            "draft": v.version == 0,
            "version": v.version,
            "priority": v.priority,
            "status": v.status,
            "reason": v.reason,
            "actions": v.actions,
        }
        for v in evaluation.verdicts
    ]
    await session.rollback()
    return {"trigger": body.event.trigger, "verdicts": verdicts}


@router.get("/api/rules/members")
async def sample_members(
    session: SessionDep, _: RulesUser, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Members to dry-run with, found by name, email, phone or external id (newest first)."""
    found = await members.search(session, query=q.strip(), tier=None, limit=SAMPLE_MEMBERS, after=None)
    return {
        "members": [
            {
                "id": str(m.id),
                "name": m.name,
                "email": m.email,
                "tier": m.tier,
                "lifetime_spend": str(m.lifetime_spend),
                "tags": list(m.tags),
            }
            for m in found
        ]
    }
