"""Rule evaluation: which rules an event fires, in order, and their actions, in the ingesting transaction.

Each firing claims a row in `rule_firings` before it acts. The row is unique per (rule, version, event) and
per (rule, member, limit key), so a redelivered event, or a second event within a limit (the same local day
for `once_per_day`), finds the first firing instead of making a second, also under concurrency: the second
insert waits for the first transaction and then does nothing. Database actions (points, coupons, tasks,
tags) commit with the event; Temporal actions (journeys, messages) go through the outbox with deterministic
workflow ids. A dry run computes the same verdicts and plans and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import Member
from services import journeys
from services.rules import claims
from services.rules.actions import (
    ActionRunner,
    PendingCredit,
    RuleEvent,
    legacy_award_key,
    limit_key,
    plan,
    post_credits,
)
from services.rules.definition import RuleDefinition, first_failing
from services.rules.loading import CompiledRule, compile_definition, rules_for

DefinitionFilter = Callable[[RuleDefinition], bool]

__all__ = ["CompiledRule", "Evaluation", "RuleEvent", "Verdict", "evaluate_event", "member_facts", "rules_for"]


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


# --- evaluation ------------------------------------------------------------------------------------------


@dataclass
class _Match:
    """A rule whose conditions hold for the event: what it is claimed under, and its verdict to fill."""

    verdict: Verdict
    rule: CompiledRule
    limit: str
    firing_id: uuid.UUID = field(default_factory=uuid7)

    @property
    def claim(self) -> claims.Claim:
        return claims.Claim(self.firing_id, self.rule.id, self.rule.current_version, self.limit)


def _candidates(
    loaded: Sequence[CompiledRule], draft: RuleDefinition | None, trigger: str, only: DefinitionFilter | None
) -> list[CompiledRule]:
    candidates = list(loaded)
    if draft is not None and draft.trigger.event == trigger:
        candidates = [rule for rule in candidates if rule.name != draft.name]
        placeholder = {"id": uuid.UUID(int=0), "current_version": 0, "enabled": True, "builtin": False}
        candidates.append(
            compile_definition(draft, name=draft.name, priority=draft.priority, saved=False, **placeholder)
        )
        candidates.sort(key=lambda rule: (rule.definition.priority, rule.definition.name))
    if only is not None:
        candidates = [rule for rule in candidates if only(rule.definition)]
    return candidates


async def evaluate_event(
    session: AsyncSession,
    event: RuleEvent,
    *,
    task_queue: str,
    dry_run: bool = False,
    draft: RuleDefinition | None = None,
    only: DefinitionFilter | None = None,
    loaded: Sequence[CompiledRule] | None = None,
) -> Evaluation:
    """Run the rules of the event's trigger in priority order. In a dry run nothing is written; `draft`
    (a rule not saved yet) is evaluated with the saved ones, at its priority. `loaded`: the trigger's rules,
    when the caller evaluates many members at once (the daily scan).

    Conditions are tested in Python against one set of facts; the rules that match are claimed together in
    one statement, and their results written together in another. A rule with `stop_processing` closes a
    batch: the rules after it are claimed only if it did not fire, as if they had run one by one."""
    rules = loaded if loaded is not None else await rules_for(session, event.trigger, include_disabled=dry_run)
    candidates = _candidates(rules, draft, event.trigger, only)
    today = event.today or datetime.now(UTC).date()
    facts = member_facts(event.member, today) | event_facts(event)
    verdicts = [
        Verdict(rule.id, rule.name, rule.current_version, rule.priority, "", grants_points=rule.grants_points)
        for rule in candidates
    ]
    done: list[tuple[uuid.UUID, list[dict[str, Any]]]] = []
    position = 0
    while position < len(candidates):
        batch: list[_Match] = []
        tags: list[str] = list(facts.get("tags") or [])
        while position < len(candidates):
            rule, verdict = candidates[position], verdicts[position]
            position += 1
            if not rule.enabled:
                verdict.status, verdict.reason = "disabled", "the rule is disabled"
            elif not rule.predicate(facts):
                verdict.status = "condition_false"
                if dry_run and rule.definition.conditions is not None:  # a reason only a person reads
                    verdict.reason = first_failing(rule.definition.conditions, facts)
            else:
                batch.append(_Match(verdict, rule, limit_key(rule.definition, event)))
                if rule.definition.stop_processing:
                    break
                changed = None if dry_run else _tags_after(rule.definition, tags)
                if changed is not None:
                    # Later rules see the tags this one sets, as if each had run alone: test them after it acted.
                    tags = changed
                    if any(later.reads_tags for later in candidates[position:]):
                        break
        if dry_run:
            await _dry(session, batch, event)
        else:
            done += await _fire(session, batch, event, task_queue=task_queue)
        last = batch[-1] if batch else None
        if last is not None and last.rule.definition.stop_processing and last.verdict.status in ("fired", "would_fire"):
            for verdict in verdicts[position:]:
                verdict.status, verdict.reason = "stopped", f"{last.rule.name!r} fired first and stops processing"
            break
        if tags != facts.get("tags"):
            facts = member_facts(event.member, today) | event_facts(event)
    await claims.write_results(session, done)
    return Evaluation(verdicts)


def _tags_after(definition: RuleDefinition, tags: list[str]) -> list[str] | None:
    """The member's tags after the rule's tag and flag actions (as ActionRunner applies them), or None when
    they stay as they are."""
    after = list(tags)
    for action in definition.actions:
        add, remove = [], []
        if action.tag is not None:
            add, remove = list(action.tag.add), list(action.tag.remove)
        elif action.flag is not None:
            add = [action.flag.set] if action.flag.set else []
            remove = [action.flag.clear] if action.flag.clear else []
        after = [tag for tag in after if tag not in remove]
        after += [tag for tag in add if tag not in after]
    return after if after != tags else None


def _blocked(match: _Match, blocker: claims.Blocker) -> None:
    verdict, firing = match.verdict, blocker.firing
    verdict.status = blocker.status
    verdict.firing_id = firing.id
    verdict.reason = (
        "this event already fired this rule version"
        if blocker.status == "already_fired"
        else f"limit reached ({match.limit}): fired at {firing.fired_at.isoformat()}"
    )
    verdict.actions = [dict(result, status="earlier") for result in firing.results]


async def _dry(session: AsyncSession, batch: list[_Match], event: RuleEvent) -> None:
    """Would each rule fire? Earlier firings of all the saved ones are looked up in one query."""
    saved = [match for match in batch if match.rule.saved]
    held = await claims.blockers(session, [m.claim for m in saved], event_key=event.key, member_id=event.member.id)
    for match in batch:
        blocker = held.get(match.rule.id) if match.rule.saved else None
        if blocker is not None:
            _blocked(match, blocker)
        else:
            match.verdict.status = "would_fire"
            match.verdict.actions = [plan(action, event) for action in match.rule.definition.actions]


async def _fire(
    session: AsyncSession, batch: list[_Match], event: RuleEvent, *, task_queue: str
) -> list[tuple[uuid.UUID, list[dict[str, Any]]]]:
    """Claim the batch in one statement, explain the claims that lost, then act for the ones that won, in
    priority order. Returns each firing's id and results, for the caller to write in one statement."""
    if not batch:
        return []
    legacy = {match.rule.id: legacy_award_key(match.rule, match.rule.definition, event) for match in batch}
    won = await claims.claim(
        session,
        [match.claim for match in batch],
        event_key=event.key,
        member_id=event.member.id,
        trigger=event.trigger,
        fired_at=datetime.now(UTC),
        legacy_keys=[key for key in legacy.values() if key is not None],
    )
    lost = [match for match in batch if match.firing_id not in won.firing_ids]
    held = await claims.blockers(session, [m.claim for m in lost], event_key=event.key, member_id=event.member.id)
    done: list[tuple[uuid.UUID, list[dict[str, Any]]]] = []
    credits: list[PendingCredit] = []
    for match in batch:
        if match.firing_id not in won.firing_ids:
            blocker = held.get(match.rule.id)
            assert blocker is not None, "a firing conflicted but none is there"
            _blocked(match, blocker)
            continue
        key = legacy[match.rule.id]
        runner = ActionRunner(
            session,
            match.rule,
            match.rule.definition,
            event,
            match.limit,
            task_queue=task_queue,
            legacy=(key, won.legacy.get(key) if key is not None else None),
            credits=credits,
        )
        match.verdict.status, match.verdict.firing_id = "fired", match.firing_id
        match.verdict.actions = await runner.run()
        done.append((match.firing_id, match.verdict.actions))
    await post_credits(session, credits)
    return done
