"""Rules: the list, a rule read as IF / THEN, its versions and firings, enable / disable, and editing (the
builder of api.console.rule_builder, or the definition as JSON with the problems shown inline)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.console.auth import ConsoleUser, checked_form, require
from api.console.render import flash_to, read_definition, render
from api.console.rule_builder import builder_boot
from api.deps import SessionDep
from core.errors import AppError, NotFound
from services import rules

router = APIRouter()


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _actions(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """Each action as its name and its arguments, for reading rather than as JSON."""
    out = []
    for action in definition.get("actions") or []:
        if isinstance(action, dict) and len(action) == 1:
            ((name, args),) = action.items()
            out.append((str(name).replace("_", " "), json.dumps(args, ensure_ascii=False)))
        else:
            out.append(("action", json.dumps(action, ensure_ascii=False)))
    return out


@router.get("/rules", response_class=HTMLResponse)
async def rule_list(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("rules")]
) -> HTMLResponse:
    return render(request, "rules.html", user=user, rows=await rules.list_rules(session))


async def _rule_page(
    request: Request,
    session: AsyncSession,
    user: ConsoleUser,
    rule_id: uuid.UUID | None,
    *,
    version: int | None = None,
    draft: str | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        if rule_id is None:
            raise NotFound("no such rule", code="rule_not_found")
        rule = await rules.get_rule(session, rule_id)
        shown = await rules.get_version(session, rule_id, version)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="rule version")
    definition = shown.definition
    return render(
        request,
        "rule.html",
        status_code=status_code,
        user=user,
        active="rules",
        rule=rule,
        shown=shown,
        conditions=json.dumps(definition.get("conditions"), ensure_ascii=False)
        if definition.get("conditions")
        else None,
        actions=_actions(definition),
        versions=await rules.versions(session, rule_id),
        firings=await rules.firings(session, rule_id, member_id=None, limit=20, after=None),
        draft=draft if draft is not None else json.dumps(definition, indent=2, ensure_ascii=False),
        problems=problems or [],
        builder=builder_boot(rule, definition),
    )


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
async def rule_view(
    request: Request, rule_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("rules")]
) -> HTMLResponse:
    raw = request.query_params.get("version") or ""
    version = int(raw) if raw.isdigit() and len(raw) < 8 else None
    return await _rule_page(request, session, user, _uuid(rule_id), version=version)


@router.post("/rules/{rule_id}", response_class=HTMLResponse)
async def rule_publish(
    request: Request, rule_id: str, session: SessionDep, user: Annotated[ConsoleUser, require("rules")]
) -> Response:
    form = await checked_form(request, user)
    parsed = _uuid(rule_id)
    if parsed is None:
        return render(request, "not_found.html", status_code=404, user=user, what="rule")
    draft = form.get("definition", "")
    raw, problems = read_definition(draft)
    if raw is not None:
        try:
            rule = await rules.publish(session, parsed, rules.parse(raw), actor=user.actor)
            version = rule.current_version
            await commit(session)
            message = f"Published version {version}."
            return RedirectResponse(flash_to(request, f"/console/rules/{parsed}", message), status_code=303)
        except NotFound:
            return render(request, "not_found.html", status_code=404, user=user, what="rule")
        except AppError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            problems = [{"field": str(d.get("field", "")), "message": str(d.get("message", ""))} for d in details]
            problems = problems or [{"field": "definition", "message": exc.message}]
    await session.rollback()
    return await _rule_page(request, session, user, parsed, draft=draft, problems=problems, status_code=422)


@router.post("/rules/{rule_id}/{switch}", response_class=HTMLResponse)
async def rule_switch(
    request: Request, rule_id: str, switch: str, session: SessionDep, user: Annotated[ConsoleUser, require("rules")]
) -> Response:
    await checked_form(request, user)
    parsed = _uuid(rule_id)
    if parsed is None or switch not in ("enable", "disable"):
        return render(request, "not_found.html", status_code=404, user=user, what="rule")
    try:
        await rules.set_enabled(session, parsed, switch == "enable", actor=user.actor)
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=user, what="rule")
    await commit(session)
    message = "Rule enabled." if switch == "enable" else "Rule disabled."
    return RedirectResponse(flash_to(request, f"/console/rules/{parsed}", message), status_code=303)
