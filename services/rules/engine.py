"""Rule evaluation: which rules an event fires, in order, and their actions, in the ingesting transaction.

Each firing claims a row in `rule_firings` before it acts. The row is unique per (rule, version, event) and
per (rule, member, limit key), so a redelivered event, or a second event within a limit (the same local day
for `once_per_day`), finds the first firing instead of making a second, also under concurrency: the second
insert waits for the first transaction and then does nothing. Database actions (points, coupons, tasks,
tags) commit with the event; Temporal actions (journeys, messages) go through the outbox with deterministic
workflow ids. A dry run computes the same verdicts and plans and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import LedgerTransaction, Member, Rule, RuleFiring, RuleVersion
from services import journeys
from services.definitions.conditions import evaluate
from services.rules.actions import ActionRunner, RuleEvent, legacy_award_key, limit_key, plan
from services.rules.definition import RuleDefinition, first_failing

__all__ = ["Evaluation", "RuleEvent", "Verdict", "evaluate_event", "member_facts", "rules_for"]


@dataclass
class Verdict:
    """What one rule did (or would do) with the event."""

    rule_id: uuid.UUID
    name: str
    version: int
    priority: int
    # fired (would_fire in a dry run), condition_false, limit_reached, already_fired, disabled, stopped
    status: str
    reason: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    firing_id: uuid.UUID | None = None
    grants_points: bool = False


@dataclass
class Evaluation:
    verdicts: list[Verdict]

    @property
    def points_awarded(self) -> int:
        return sum(
            action.get("points", 0)
            for verdict in self.verdicts
            if verdict.status == "fired"
            for action in verdict.actions
            if action["action"] == "grant_points" and action.get("status") == "done"
        )

    @property
    def transaction_id(self) -> int | None:
        for verdict in self.verdicts:
            for action in verdict.actions:
                if action["action"] == "grant_points" and action.get("transaction_id") is not None:
                    return int(action["transaction_id"])
        return None

    @property
    def limited(self) -> bool:
        """A points rule matched but its limit (or an earlier award under the same key) held it back."""
        return any(
            verdict.grants_points
            and (
                verdict.status in ("limit_reached", "already_fired")
                or (
                    verdict.status == "fired"
                    and any(a.get("status") == "replayed" for a in verdict.actions if a["action"] == "grant_points")
                )
            )
            for verdict in self.verdicts
        )


# --- facts -----------------------------------------------------------------------------------------------


def member_facts(member: Member, today: date) -> dict[str, Any]:
    """What conditions may test about the member (no personal data besides the birthday month)."""
    facts = journeys.member_facts(member, today=today)
    facts["lifetime_spend"] = member.lifetime_spend
    facts["birthday_month"] = member.birthday.month if member.birthday else None
    for key, value in (member.attributes or {}).items():
        facts[f"attributes.{key}"] = value
    return facts


def event_facts(event: RuleEvent) -> dict[str, Any]:
    facts = dict(event.facts)
    for key, value in event.properties.items():
        facts[f"event.properties.{key}"] = value
    return facts


# --- loading ---------------------------------------------------------------------------------------------

_parsed: dict[tuple[uuid.UUID, int], RuleDefinition] = {}


def parsed(rule_id: uuid.UUID, version: int, raw: dict[str, Any]) -> RuleDefinition:
    """Versions never change, so each is parsed once per process."""
    key = (rule_id, version)
    found = _parsed.get(key)
    if found is None:
        found = RuleDefinition.model_validate(raw)
        if len(_parsed) > 10_000:
            _parsed.clear()
        _parsed[key] = found
    return found


async def rules_for(
    session: AsyncSession, trigger: str, *, include_disabled: bool = False
) -> list[tuple[Rule, RuleDefinition]]:
    stmt = (
        select(Rule, RuleVersion)
        .join(RuleVersion, (RuleVersion.rule_id == Rule.id) & (RuleVersion.version == Rule.current_version))
        .where(Rule.trigger == trigger)
        .order_by(Rule.priority, Rule.name)
    )
    if not include_disabled:
        stmt = stmt.where(Rule.enabled.is_(True))
    rows = (await session.execute(stmt)).all()
    return [(rule, parsed(rule.id, version.version, version.definition)) for rule, version in rows]


# --- evaluation ------------------------------------------------------------------------------------------


def _grants(definition: RuleDefinition) -> bool:
    return any(action.grant_points is not None for action in definition.actions)


async def evaluate_event(
    session: AsyncSession,
    event: RuleEvent,
    *,
    task_queue: str,
    dry_run: bool = False,
    draft: RuleDefinition | None = None,
    only: Callable[[RuleDefinition], bool] | None = None,
    loaded: list[tuple[Rule, RuleDefinition]] | None = None,
) -> Evaluation:
    """Run the rules of the event's trigger in priority order. In a dry run nothing is written; `draft`
    (a rule not saved yet) is evaluated with the saved ones, at its priority. `loaded`: the trigger's rules,
    when the caller evaluates many members at once (the daily scan)."""
    candidates: list[tuple[Rule | None, RuleDefinition]] = list(
        loaded if loaded is not None else await rules_for(session, event.trigger, include_disabled=dry_run)
    )
    if draft is not None and draft.trigger.event == event.trigger:
        candidates = [(rule, d) for rule, d in candidates if rule is None or rule.name != draft.name]
        candidates.append((None, draft))
        candidates.sort(key=lambda pair: (pair[1].priority, pair[1].name))
    if only is not None:
        candidates = [(rule, d) for rule, d in candidates if only(d)]
    today = event.today or datetime.now(UTC).date()
    verdicts: list[Verdict] = []
    stopped_by: str | None = None
    for rule, definition in candidates:
        verdict = Verdict(
            rule_id=rule.id if rule else uuid.UUID(int=0),
            name=definition.name,
            version=rule.current_version if rule else 0,
            priority=definition.priority,
            status="",
            grants_points=_grants(definition),
        )
        verdicts.append(verdict)
        if stopped_by is not None:
            verdict.status, verdict.reason = "stopped", f"{stopped_by!r} fired first and stops processing"
            continue
        if rule is not None and not rule.enabled:
            verdict.status, verdict.reason = "disabled", "the rule is disabled"
            continue
        facts = member_facts(event.member, today) | event_facts(event)
        if definition.conditions is not None and not evaluate(definition.conditions, facts):
            verdict.status = "condition_false"
            verdict.reason = first_failing(definition.conditions, facts)
            continue
        limit = limit_key(definition, event)
        if dry_run or rule is None:
            await _dry(session, verdict, rule, definition, event, limit)
        else:
            await _fire(session, verdict, rule, definition, event, limit, task_queue=task_queue)
        if verdict.status in ("fired", "would_fire") and definition.stop_processing:
            stopped_by = definition.name
    return Evaluation(verdicts)


async def _blocking(
    session: AsyncSession, rule_id: uuid.UUID, version: int, event: RuleEvent, limit: str
) -> tuple[str, RuleFiring] | None:
    same_event = (
        await session.execute(
            select(RuleFiring).where(
                RuleFiring.rule_id == rule_id, RuleFiring.version == version, RuleFiring.event_key == event.key
            )
        )
    ).scalar_one_or_none()
    if same_event is not None:
        return "already_fired", same_event
    same_limit = (
        await session.execute(
            select(RuleFiring).where(
                RuleFiring.rule_id == rule_id, RuleFiring.member_id == event.member.id, RuleFiring.limit_key == limit
            )
        )
    ).scalar_one_or_none()
    if same_limit is not None:
        return "limit_reached", same_limit
    return None


def _blocked(verdict: Verdict, found: tuple[str, RuleFiring], limit: str) -> None:
    status, firing = found
    verdict.status = status
    verdict.firing_id = firing.id
    verdict.reason = (
        "this event already fired this rule version"
        if status == "already_fired"
        else f"limit reached ({limit}): fired at {firing.fired_at.isoformat()}"
    )
    verdict.actions = [dict(result, status="earlier") for result in firing.results]


async def _dry(
    session: AsyncSession,
    verdict: Verdict,
    rule: Rule | None,
    definition: RuleDefinition,
    event: RuleEvent,
    limit: str,
) -> None:
    if rule is not None:
        found = await _blocking(session, rule.id, rule.current_version, event, limit)
        if found is not None:
            _blocked(verdict, found, limit)
            return
    verdict.status = "would_fire"
    verdict.actions = [plan(action, event) for action in definition.actions]


async def _fire(
    session: AsyncSession,
    verdict: Verdict,
    rule: Rule,
    definition: RuleDefinition,
    event: RuleEvent,
    limit: str,
    *,
    task_queue: str,
) -> None:
    firing_id = uuid7()
    # A built-in award also asks, in the same round trip, whether its pre-rules ledger key was used.
    legacy = legacy_award_key(rule, definition, event)
    probe = (
        select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == legacy).scalar_subquery()
        if legacy is not None
        else literal(None, Integer)
    )
    claimed = (
        await session.execute(
            insert(RuleFiring)
            .values(
                id=firing_id,
                rule_id=rule.id,
                version=rule.current_version,
                event_key=event.key,
                limit_key=limit,
                member_id=event.member.id,
                trigger=event.trigger,
                fired_at=datetime.now(UTC),
                results=[],
            )
            .on_conflict_do_nothing()
            .returning(RuleFiring.id, probe)
        )
    ).one_or_none()
    if claimed is None:
        found = await _blocking(session, rule.id, rule.current_version, event, limit)
        assert found is not None, "a firing conflicted but none is there"
        _blocked(verdict, found, limit)
        return
    verdict.status, verdict.firing_id = "fired", firing_id
    runner = ActionRunner(session, rule, definition, event, limit, task_queue=task_queue, legacy=(legacy, claimed[1]))
    verdict.actions = await runner.run()
    await session.execute(update(RuleFiring).where(RuleFiring.id == firing_id).values(results=verdict.actions))
