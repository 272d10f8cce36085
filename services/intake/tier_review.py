"""Tier changes with their events: the upgrade an order earns on the ladder's basis, and the daily review's
pages (a rise or a fall, and the `tier_at_risk` notice before a review that would lower a tier).

Each change is a tier history row and a `tier_changed` member event, with journeys and rules told in the same
transaction, as care's triggers do. Keys make a retried page change nothing twice: a review's change is
`tier_review:{member}:{review_on}`, a notice `tier_at_risk:{member}:{review_on}`. Events carry ids, tier codes,
amounts and dates only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.timeutil import add_months
from models import Member, MemberEvent, Tier
from services import journeys, rules
from services.loyalty import tier_history, tier_policy, tier_reviews, tiers
from services.loyalty.tier_policy import Basis, TierPolicyIn
from services.members import events as member_events

TIER_AT_RISK = "tier_at_risk"
TIER_CHANGED = "tier_changed"


def review_key(member_id: uuid.UUID, review_on: date) -> str:
    return f"tier_review:{member_id}:{review_on.isoformat()}"


def at_risk_key(member_id: uuid.UUID, review_on: date) -> str:
    return f"tier_at_risk:{member_id}:{review_on.isoformat()}"


# --- at an order ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Qualified:
    tier: Tier
    figure: Decimal
    policy: TierPolicyIn

    def reason(self, order_external_id: str) -> str:
        figure = f"{tier_policy.label(self.policy)} {tier_policy.shown(self.policy, self.figure)}"
        threshold = tier_policy.shown(self.policy, self.tier.min_spend_exclusive)
        return f"order {order_external_id}: {figure} above {self.tier.name}'s {threshold}"


async def qualified_at_order(
    session: AsyncSession, ladder: list[Tier], policy: TierPolicyIn, member: Member, at: datetime
) -> Qualified:
    """The tier the member's figure buys just after an order placed `at` (the order and its points already
    written): lifetime spend, or the window that ends with the order."""
    if policy.basis == Basis.LIFETIME_SPEND:
        figure = member.lifetime_spend
    else:
        window = tier_policy.Window(member.id, add_months(at, -policy.window_months), at + timedelta(microseconds=1))
        figure = (await tier_policy.figures(session, policy, [window])).get(member.id, Decimal(0))
    return Qualified(tier_policy.qualifies_for(ladder, figure), figure, policy)


async def record_upgrade(
    session: AsyncSession,
    member: Member,
    old: Tier,
    qualified: Qualified,
    *,
    order_id: uuid.UUID,
    order_ref: str,
    at: datetime,
) -> None:
    """The order's upgrade in the tier history (the order's own `tier_changed` event is the intake's)."""
    change = tier_history.Change(
        old=old.code,
        new=qualified.tier.code,
        direction="up",
        reason=qualified.reason(order_ref),
        reference_type="order",
        reference_id=str(order_id),
        occurred_at=at,
        key=f"order:{order_id}:tier",
    )
    await tier_history.record(session, member, change)


# --- the review's pages --------------------------------------------------------------------------------------


@dataclass
class PageResult:
    processed: int = 0
    last_id: uuid.UUID | None = None
    rose: int = 0
    kept: int = 0
    fell: int = 0
    notified: int = 0


async def review_page(
    session: AsyncSession, *, on: date, after: uuid.UUID | None, limit: int, task_queue: str
) -> PageResult:
    """Decide one page of the members whose review ends `on` (review date + grace days) and apply the rises
    and falls. Nothing under lifetime spend, which never falls (its upgrades happen at orders)."""
    decided_on = on
    policy = tier_policy.as_input(await tier_policy.get(session))
    result = PageResult()
    if policy.basis == Basis.LIFETIME_SPEND:
        return result
    review_on = decided_on - timedelta(days=policy.grace_days)
    ladder = await tiers.ladder(session)
    page = await tier_reviews.due_members(session, policy, review_on, after=after, limit=limit, lock=True)
    windows = [tier_policy.window_ending(policy, member.id, decided_on) for member in page]
    figures = await tier_policy.figures(session, policy, windows)
    at = tier_policy.day_start(decided_on)
    for member in page:
        current = tier_reviews.current_tier(ladder, member)
        decision = tier_reviews.decide(policy, ladder, current, figures.get(member.id, Decimal(0)))
        if decision.outcome == "keep":
            result.kept += 1
        elif await _apply(session, member, policy, decision, review_on, at, task_queue):
            result.rose += decision.outcome == "rise"
            result.fell += decision.outcome == "fall"
    result.processed, result.last_id = len(page), page[-1].id if page else None
    return result


async def _apply(
    session: AsyncSession,
    member: Member,
    policy: TierPolicyIn,
    decision: tier_reviews.Decision,
    review_on: date,
    at: datetime,
    task_queue: str,
) -> bool:
    direction = "up" if decision.outcome == "rise" else "down"
    key = review_key(member.id, review_on)
    change = tier_history.Change(
        old=decision.current.code,
        new=decision.new.code,
        direction=direction,
        reason=decision.reason(policy),
        reference_type="review",
        reference_id=review_on.isoformat(),
        occurred_at=at,
        key=key,
        review_on=review_on,
    )
    if not await tier_history.record(session, member, change):
        return False  # this review changed the member before (a retried page)
    properties = {"from": change.old, "to": change.new, "direction": direction, "review_on": review_on.isoformat()}
    session.add(
        MemberEvent(member_id=member.id, type=TIER_CHANGED, occurred_at=at, properties=properties, idempotency_key=key)
    )
    await session.flush()
    journey_event = "tier_upgraded" if direction == "up" else "tier_downgraded"
    await journeys.on_event(session, member, journey_event, task_queue=task_queue, properties=properties)
    facts = {"event.old_tier": change.old, "event.new_tier": change.new, "event.direction": direction}
    await rules.evaluate_event(
        session, rules.RuleEvent(TIER_CHANGED, member, key, at, facts, member_locked=True), task_queue=task_queue
    )
    return True


async def at_risk_page(
    session: AsyncSession, *, on: date, after: uuid.UUID | None, limit: int, task_queue: str
) -> PageResult:
    """One page of the members whose review comes at_risk_days from `on`: each whose figure so far would lower
    their tier gets `tier_at_risk` with the tier, what it would become, the amount still needed to keep it and
    the review date, once per review."""
    policy = tier_policy.as_input(await tier_policy.get(session))
    result = PageResult()
    if policy.basis == Basis.LIFETIME_SPEND or policy.at_risk_days == 0:
        return result
    review_on = on + timedelta(days=policy.at_risk_days)
    decided_on = review_on + timedelta(days=policy.grace_days)
    ladder = await tiers.ladder(session)
    page = await tier_reviews.due_members(session, policy, review_on, after=after, limit=limit, above_base=True)
    windows = [tier_policy.window_ending(policy, m.id, decided_on, counted_to=on) for m in page]
    figures = await tier_policy.figures(session, policy, windows)
    for member in page:
        current = tier_reviews.current_tier(ladder, member)
        decision = tier_reviews.decide(policy, ladder, current, figures.get(member.id, Decimal(0)))
        if decision.outcome != "fall":
            continue
        needed = tier_policy.still_needed(policy, current, decision.figure)
        if await _notify(session, member, decision, needed, review_on, tier_policy.day_start(on), task_queue):
            result.notified += 1
    result.processed, result.last_id = len(page), page[-1].id if page else None
    return result


async def _notify(
    session: AsyncSession,
    member: Member,
    decision: tier_reviews.Decision,
    needed: Decimal,
    review_on: date,
    at: datetime,
    task_queue: str,
) -> bool:
    key = at_risk_key(member.id, review_on)
    properties: dict[str, Any] = {
        "tier": decision.current.code,
        "would_become": decision.new.code,
        "amount_needed": str(needed),
        "review_on": review_on.isoformat(),
    }
    if not await member_events.record_once(session, member.id, TIER_AT_RISK, key, at, properties):
        return False
    facts: dict[str, Any] = {
        "event.tier": decision.current.code,
        "event.would_become": decision.new.code,
        "event.amount_needed": needed,
        "event.review_on": review_on.isoformat(),
    }
    await journeys.on_event(
        session, member, TIER_AT_RISK, task_queue=task_queue, properties=properties, event_facts=facts
    )
    await rules.evaluate_event(session, rules.RuleEvent(TIER_AT_RISK, member, key, at, facts), task_queue=task_queue)
    return True
