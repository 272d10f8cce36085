"""IF/THEN rules: versioned definitions, the built-in award rules, dry runs, firings and the daily scan.

A rule's id is stable; every change publishes a new version (firings record the version that fired).
Evaluation itself lives in services.rules.engine and runs inside the transaction that ingests an event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound, problem_message
from core.ids import uuid7
from core.settings import get_settings
from models import CouponTemplate, Journey, Order, Rule, RuleFiring, RuleVersion
from services import journeys, members
from services.definitions import Problem
from services.members import field_use, scans
from services.platform import audit
from services.platform.audit import Actor
from services.rules.builtins import builtin_rules
from services.rules.definition import TIME_TRIGGERS, RuleDefinition, validate
from services.rules.engine import Evaluation, RuleEvent, evaluate_event, rules_for
from services.rules.samples import SampleEvent, sample_facts

DefinitionFilter = Callable[[RuleDefinition], bool]

# --- definitions -----------------------------------------------------------------------------------------


def parse(raw: Any, prefix: str = "body") -> RuleDefinition:
    """Schema errors as a 422 naming each field (`body.actions.0.grant_points.points`)."""
    try:
        return RuleDefinition.model_validate(raw)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in (prefix, *err["loc"])),
                "message": problem_message(err),
            }
            for err in exc.errors()
        ]
        raise InvalidInput("the rule is invalid", code="invalid_rule", details=details) from exc


def stored(definition: RuleDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"enabled"})


async def check(session: AsyncSession, definition: RuleDefinition) -> list[Problem]:
    coupons = set((await session.execute(select(CouponTemplate.code))).scalars().all())
    kinds = set((await session.execute(select(Journey.kind))).scalars().all())
    return validate(
        definition,
        templates=await journeys.known_templates(session),
        coupon_templates=coupons,
        journey_kinds=kinds,
        fields=await field_use.definitions(session),
    )


async def require_valid(session: AsyncSession, definition: RuleDefinition, prefix: str = "body") -> None:
    problems = await check(session, definition)
    if problems:
        raise InvalidInput(
            "the rule is invalid",
            code="invalid_rule",
            details=[{"field": f"{prefix}.{p.path}", "message": p.message} for p in problems],
        )


async def get_rule(session: AsyncSession, rule_id: uuid.UUID, *, for_update: bool = False) -> Rule:
    stmt = select(Rule).where(Rule.id == rule_id)
    if for_update:
        stmt = stmt.with_for_update()
    rule = (await session.execute(stmt)).scalar_one_or_none()
    if rule is None:
        raise NotFound(f"no rule {rule_id}", code="rule_not_found")
    return rule


async def get_version(session: AsyncSession, rule_id: uuid.UUID, version: int | None = None) -> RuleVersion:
    rule = await get_rule(session, rule_id)
    wanted = version if version is not None else rule.current_version
    found = await session.get(RuleVersion, (rule_id, wanted))
    if found is None:
        raise NotFound(f"rule {rule_id} has no version {wanted}", code="rule_version_not_found")
    return found


async def list_rules(session: AsyncSession, *, trigger: str | None = None) -> list[tuple[Rule, RuleVersion]]:
    stmt = select(Rule, RuleVersion).join(
        RuleVersion, (RuleVersion.rule_id == Rule.id) & (RuleVersion.version == Rule.current_version)
    )
    if trigger:
        stmt = stmt.where(Rule.trigger == trigger)
    rows = await session.execute(stmt.order_by(Rule.trigger, Rule.priority, Rule.name))
    return [(rule, version) for rule, version in rows.all()]


async def versions(session: AsyncSession, rule_id: uuid.UUID) -> list[RuleVersion]:
    await get_rule(session, rule_id)
    stmt = select(RuleVersion).where(RuleVersion.rule_id == rule_id).order_by(RuleVersion.version.desc())
    return list((await session.execute(stmt)).scalars().all())


async def _insert(session: AsyncSession, definition: RuleDefinition, *, author: str, builtin: bool) -> Rule | None:
    """Insert the rule with its version 1 unless the name is taken; None if it was."""
    rule_id = uuid7()
    inserted = (
        await session.execute(
            insert(Rule)
            .values(
                id=rule_id,
                name=definition.name,
                trigger=definition.trigger.event,
                priority=definition.priority,
                current_version=1,
                enabled=True if definition.enabled is None else definition.enabled,
                builtin=builtin,
            )
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(Rule.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return None
    session.add(RuleVersion(rule_id=rule_id, version=1, definition=stored(definition), created_by=author))
    await session.flush()
    return await get_rule(session, rule_id)


async def _audit(session: AsyncSession, actor: Actor, action: str, rule: Rule) -> None:
    await audit.record(
        session,
        actor,
        action=f"rule.{action}",
        target_type="rule",
        target_id=str(rule.id),
        details={"name": rule.name, "version": rule.current_version, "enabled": rule.enabled},
    )


async def create(session: AsyncSession, definition: RuleDefinition, *, actor: Actor) -> Rule:
    await require_valid(session, definition)
    rule = await _insert(session, definition, author=actor.name, builtin=False)
    if rule is None:
        raise Conflict(
            f"a rule named {definition.name!r} exists; publish a new version of it instead",
            code="rule_exists",
            details=[{"field": "body.name", "message": "taken"}],
        )
    await _audit(session, actor, "create", rule)
    return rule


async def publish(session: AsyncSession, rule_id: uuid.UUID, definition: RuleDefinition, *, actor: Actor) -> Rule:
    """A new version becomes current at once: events from now on are evaluated with it."""
    rule = await get_rule(session, rule_id, for_update=True)
    if definition.name != rule.name:
        raise InvalidInput(
            "a rule keeps its name",
            code="invalid_rule",
            details=[{"field": "body.name", "message": f"must be {rule.name!r}"}],
        )
    await require_valid(session, definition)
    rule.current_version += 1
    rule.trigger = definition.trigger.event
    rule.priority = definition.priority
    if definition.enabled is not None:
        rule.enabled = definition.enabled
    rule.updated_at = datetime.now(UTC)
    session.add(
        RuleVersion(rule_id=rule.id, version=rule.current_version, definition=stored(definition), created_by=actor.name)
    )
    await session.flush()
    await _audit(session, actor, "publish", rule)
    return rule


async def set_enabled(session: AsyncSession, rule_id: uuid.UUID, enabled: bool, *, actor: Actor) -> Rule:
    rule = await get_rule(session, rule_id, for_update=True)
    rule.enabled = enabled
    rule.updated_at = datetime.now(UTC)
    await session.flush()
    await _audit(session, actor, "enable" if enabled else "disable", rule)
    return rule


async def seed_builtins(session: AsyncSession) -> int:
    """Add the behaviour-award rules where missing (points from settings.points.awards); returns how many
    were added. Existing ones, edited or disabled by marketers, are left alone."""
    added = 0
    for raw in builtin_rules(get_settings().points.awards):
        if await _insert(session, RuleDefinition.model_validate(raw), author="memberflow", builtin=True):
            added += 1
    await session.flush()
    return added


async def firings(
    session: AsyncSession, rule_id: uuid.UUID, *, member_id: uuid.UUID | None, limit: int, after: uuid.UUID | None
) -> list[RuleFiring]:
    """Newest first; `after` is the last id of the previous page (ids are time-ordered)."""
    await get_rule(session, rule_id)
    stmt = select(RuleFiring).where(RuleFiring.rule_id == rule_id)
    if member_id is not None:
        stmt = stmt.where(RuleFiring.member_id == member_id)
    if after is not None:
        stmt = stmt.where(RuleFiring.id < after)
    return list((await session.execute(stmt.order_by(RuleFiring.id.desc()).limit(limit))).scalars().all())


async def firings_of_event(session: AsyncSession, event_key: str) -> list[RuleFiring]:
    stmt = select(RuleFiring).where(RuleFiring.event_key == event_key).order_by(RuleFiring.id)
    return list((await session.execute(stmt)).scalars().all())


# --- dry run ---------------------------------------------------------------------------------------------


async def dry_run(
    session: AsyncSession, sample: SampleEvent, draft: RuleDefinition | None, *, task_queue: str
) -> Evaluation:
    """Which rules the sample event would fire, in order, and what each would do. Nothing is written: in a
    dry run the engine only reads (and the route never commits)."""
    if draft is not None:
        if draft.trigger.event != sample.trigger:
            raise InvalidInput(
                "the draft rule reacts to another trigger than the sample event",
                code="invalid_rule",
                details=[{"field": "body.rule.trigger.event", "message": f"must be {sample.trigger!r}"}],
            )
        await require_valid(session, draft, prefix="body.rule")
    member = await members.get(session, sample.member_id)
    event = RuleEvent(
        trigger=sample.trigger,
        member=member,
        key=f"dry-run:{sample.event_id or uuid.uuid4()}",
        occurred_at=sample.occurred_at or datetime.now(UTC),
        facts=sample_facts(sample, member),
        properties=dict(sample.properties),
        shop_event_id=sample.event_id,
    )
    return await evaluate_event(
        session, event, task_queue=task_queue, dry_run=True, draft=draft, only=_param_filter(sample)
    )


def _param_filter(sample: SampleEvent) -> DefinitionFilter | None:
    if sample.trigger == "inactive_days" and sample.days is not None:
        return lambda d: d.trigger.days == sample.days
    if sample.trigger == "birthday" and sample.days_before is not None:
        return lambda d: (d.trigger.days_before or 0) == sample.days_before
    return None


async def ordered_since(session: AsyncSession, member_id: uuid.UUID, since: datetime) -> bool:
    """Whether the member completed an order after `since`: placed after it, or reported after it (a shop's
    clock may lag). A delayed message with `unless_ordered` asks this before it goes."""
    found = await session.execute(
        select(Order.id)
        .where(Order.member_id == member_id, or_(Order.placed_at > since, Order.created_at > since))
        .limit(1)
    )
    return found.first() is not None


# --- the daily scan for time triggers --------------------------------------------------------------------


async def scan_due(
    session: AsyncSession, *, today: date, task_queue: str, page_size: int = scans.SCAN_PAGE
) -> dict[str, int]:
    """Evaluate the time-triggered rules due today: `birthday` (today, or `days_before`), `inactive_days`
    (last purchase exactly `days` ago, so each silent spell fires once). Returns firings per rule name. Event
    keys carry the year or the last purchase date, so running the scan twice fires nothing new."""
    fired: dict[str, int] = {}
    occurred_at = datetime.combine(today, time(12), tzinfo=UTC)
    for trigger in TIME_TRIGGERS:
        loaded = await rules_for(session, trigger)
        params = sorted(
            {
                (rule.definition.trigger.days or 0)
                if trigger == "inactive_days"
                else (rule.definition.trigger.days_before or 0)
                for rule in loaded
            }
        )
        for param in params:
            if trigger == "birthday":
                target = today + timedelta(days=param)
                where = scans.birthday_on(target)
                key_part, facts = f"{target.year}:{param}", {"event.days_before": param}
            else:
                where = scans.last_purchase_on(today - timedelta(days=param))
                key_part, facts = f"{param}:{(today - timedelta(days=param)).isoformat()}", {"event.days": param}
            async for page in scans.pages_of(session, where, page_size=page_size):
                for member in page:
                    event = RuleEvent(
                        trigger=trigger,
                        member=member,
                        key=f"{trigger}:{member.id}:{key_part}",
                        occurred_at=occurred_at,
                        facts=facts,
                        today=today,
                    )
                    evaluation = await evaluate_event(
                        session, event, task_queue=task_queue, only=_time_filter(trigger, param), loaded=loaded
                    )
                    for verdict in evaluation.verdicts:
                        if verdict.status == "fired":
                            fired[verdict.name] = fired.get(verdict.name, 0) + 1
    return fired


def _time_filter(trigger: str, param: int) -> DefinitionFilter:
    if trigger == "birthday":
        return lambda d: (d.trigger.days_before or 0) == param
    return lambda d: d.trigger.days == param
