"""IF/THEN rules: definitions (versioned, validated), enable/disable, dry runs, and their firings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from api.boundary import commit
from api.deps import CurrentKey, MarketerKey, SessionDep, SettingsDep
from api.pagination import RULE_FIRING_CURSOR, CursorQuery
from api.schemas.common import ERROR_RESPONSES
from api.schemas.rules import (
    DryRunIn,
    DryRunOut,
    FiringOut,
    FiringPage,
    RuleDetailOut,
    RuleOut,
    RuleValidationOut,
    RuleVersionOut,
    VerdictOut,
)
from core.errors import AppError
from models import Rule
from services import rules
from services.platform.audit import Actor
from services.rules.definition import TRIGGERS

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], responses=ERROR_RESPONSES)
EXAMPLE = {
    "name": "vip_double_points",
    "trigger": {"event": "order_completed"},
    "conditions": {
        "all": [{"field": "tier", "op": "eq", "value": "gold"}, {"field": "event.amount", "op": "gte", "value": 100}]
    },
    "actions": [{"grant_points": {"per_currency_unit": "1"}}],
    "priority": 50,
    "limit": "none",
}
# Parsed by services.rules.parse, so errors name fields the way the rest of the API does (body.actions.0...).
RawRule = Annotated[dict[str, Any], Body(description="A rule definition (see docs/rules.md)", examples=[EXAMPLE])]
Version = Annotated[int, Path(ge=1, le=1_000_000)]


async def _detail(session: AsyncSession, rule: Rule) -> RuleDetailOut:
    current = await rules.get_version(session, rule.id)
    all_versions = [v.version for v in await rules.versions(session, rule.id)]
    return RuleDetailOut(
        **RuleOut.model_validate(rule).model_dump(), definition=current.definition, versions=all_versions
    )


@router.get("", response_model=list[RuleDetailOut], summary="Rules with their current definitions")
async def list_rules(
    session: SessionDep,
    _: CurrentKey,
    trigger: Annotated[str | None, Query(pattern=f"^({'|'.join(TRIGGERS)})$")] = None,
) -> list[RuleDetailOut]:
    return [
        RuleDetailOut(**RuleOut.model_validate(rule).model_dump(), definition=version.definition)
        for rule, version in await rules.list_rules(session, trigger=trigger)
    ]


@router.post("/validate", response_model=RuleValidationOut, summary="Check a rule without saving it")
async def validate_rule(body: RawRule, session: SessionDep, _: MarketerKey) -> RuleValidationOut:
    try:
        definition = rules.parse(body)
    except AppError as exc:  # schema errors are the answer here, not a failure
        return RuleValidationOut(valid=False, problems=exc.details)
    problems = await rules.check(session, definition)
    return RuleValidationOut(
        valid=not problems, problems=[{"field": f"body.{p.path}", "message": p.message} for p in problems]
    )


@router.post(
    "/dry-run",
    response_model=DryRunOut,
    summary="Which rules a sample event would fire, and what they would do, without doing it",
)
async def dry_run(body: DryRunIn, session: SessionDep, _: MarketerKey, settings: SettingsDep) -> DryRunOut:
    draft = rules.parse(body.rule, prefix="body.rule") if body.rule is not None else None
    evaluation = await rules.dry_run(session, body.event, draft, task_queue=settings.temporal.task_queue)
    verdicts = [
        VerdictOut(
            rule_id=v.rule_id if v.version else None,
            name=v.name,
            version=v.version,
            priority=v.priority,
            status=v.status,
            reason=v.reason,
            actions=v.actions,
        )
        for v in evaluation.verdicts
    ]
    would = [v for v in evaluation.verdicts if v.status == "would_fire"]
    points = sum(a.get("points", 0) for v in would for a in v.actions if a["action"] == "grant_points")
    return DryRunOut(trigger=body.event.trigger, would_fire=[v.name for v in would], points=points, verdicts=verdicts)


@router.post("", status_code=201, response_model=RuleDetailOut, summary="Create a rule (its version 1)")
async def create_rule(body: RawRule, session: SessionDep, key: MarketerKey) -> RuleDetailOut:
    rule = await rules.create(session, rules.parse(body), actor=Actor.of_key(key))
    out = await _detail(session, rule)
    await commit(session)
    return out


@router.get("/{rule_id}", response_model=RuleDetailOut, summary="A rule and its current definition")
async def get_rule(rule_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> RuleDetailOut:
    return await _detail(session, await rules.get_rule(session, rule_id))


@router.put("/{rule_id}", response_model=RuleDetailOut, summary="Publish a new version of a rule")
async def publish_rule(rule_id: uuid.UUID, body: RawRule, session: SessionDep, key: MarketerKey) -> RuleDetailOut:
    rule = await rules.publish(session, rule_id, rules.parse(body), actor=Actor.of_key(key))
    out = await _detail(session, rule)
    await commit(session)
    return out


@router.get("/{rule_id}/versions", response_model=list[RuleVersionOut], summary="A rule's versions, newest first")
async def rule_versions(rule_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> list[RuleVersionOut]:
    return [RuleVersionOut.model_validate(v) for v in await rules.versions(session, rule_id)]


@router.get("/{rule_id}/versions/{version}", response_model=RuleVersionOut, summary="One version of a rule")
async def rule_version(rule_id: uuid.UUID, version: Version, session: SessionDep, _: CurrentKey) -> RuleVersionOut:
    return RuleVersionOut.model_validate(await rules.get_version(session, rule_id, version))


@router.post("/{rule_id}/enable", response_model=RuleOut, summary="Evaluate the rule for new events")
async def enable_rule(rule_id: uuid.UUID, session: SessionDep, key: MarketerKey) -> RuleOut:
    rule = await rules.set_enabled(session, rule_id, True, actor=Actor.of_key(key))
    out = RuleOut.model_validate(rule)
    await commit(session)
    return out


@router.post("/{rule_id}/disable", response_model=RuleOut, summary="Stop evaluating the rule")
async def disable_rule(rule_id: uuid.UUID, session: SessionDep, key: MarketerKey) -> RuleOut:
    rule = await rules.set_enabled(session, rule_id, False, actor=Actor.of_key(key))
    out = RuleOut.model_validate(rule)
    await commit(session)
    return out


@router.get("/{rule_id}/firings", response_model=FiringPage, summary="When the rule fired, for whom, and what it did")
async def rule_firings(
    rule_id: uuid.UUID,
    session: SessionDep,
    _: CurrentKey,
    member_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> FiringPage:
    rows = await rules.firings(
        session, rule_id, member_id=member_id, limit=limit + 1, after=RULE_FIRING_CURSOR.decode(cursor)
    )
    return FiringPage.of(rows, limit, RULE_FIRING_CURSOR, key=lambda f: f.id, item=FiringOut.model_validate)
