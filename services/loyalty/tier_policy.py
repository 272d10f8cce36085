"""The ladder's qualification policy: which figure qualifies a member for a tier (the basis), when reviews
fall, how far one review may lower a tier, the grace after it and the notice before it; and that figure for a
page of members. Changing the policy re-evaluates no one: the next review (services.loyalty.tier_review)
applies it."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.timeutil import add_months
from models import Member, Tier, TierPolicy
from services.platform import audit
from services.platform.audit import Actor


class Basis(StrEnum):
    LIFETIME_SPEND = "lifetime_spend"  # never falls: today's behaviour, the default
    ROLLING_SPEND = "rolling_12m_spend"  # spend (less refunds) in the last window_months
    POINTS_EARNED = "points_earned_window"  # points earned in the last window_months


class ReviewRule(StrEnum):
    YEARLY = "yearly"  # everyone on review_month/review_day
    ANNIVERSARY = "anniversary"  # each member on the anniversary of reaching their tier


class TierPolicyIn(BaseModel):
    """A whole policy, as the API and the console form send it."""

    model_config = ConfigDict(extra="forbid")

    basis: Basis = Basis.LIFETIME_SPEND
    window_months: int = Field(default=12, ge=1, le=36)
    review_rule: ReviewRule = ReviewRule.YEARLY
    review_month: int = Field(default=1, ge=1, le=12)
    review_day: int = Field(default=1, ge=1, le=31)
    max_drop_per_review: int = Field(default=1, ge=1, le=19)
    grace_days: int = Field(default=0, ge=0, le=365)
    at_risk_days: int = Field(default=30, ge=0, le=365)  # 0: no tier_at_risk notice

    @field_validator("review_day")
    @classmethod
    def _day_every_year(cls, value: int, info: ValidationInfo) -> int:
        """A review date must come every year: 29 February, 31 April and the like are refused."""
        month = info.data.get("review_month")
        if month is not None and value > calendar.monthrange(2001, month)[1]:
            raise ValueError(f"month {month} has no day {value} every year")
        return value


async def get(session: AsyncSession) -> TierPolicy:
    """The policy row (the migration writes it; a missing one is recreated with the defaults)."""
    policy = await session.get(TierPolicy, 1)
    if policy is None:
        policy = TierPolicy(id=1, **TierPolicyIn().model_dump())
        session.add(policy)
        await session.flush()
    return policy


async def ladder_and_policy(session: AsyncSession) -> tuple[list[Tier], TierPolicyIn]:
    """The ladder (lowest first) and the policy in one statement: the order path reads both for every order."""
    rows = (
        await session.execute(select(Tier, TierPolicy).join(TierPolicy, TierPolicy.id == 1).order_by(Tier.rank))
    ).all()
    if not rows:
        return [], as_input(await get(session))
    return [row[0] for row in rows], as_input(rows[0][1])


def as_input(policy: TierPolicy) -> TierPolicyIn:
    return TierPolicyIn.model_validate({name: getattr(policy, name) for name in TierPolicyIn.model_fields})


async def update(session: AsyncSession, data: TierPolicyIn, *, actor: Actor) -> TierPolicy:
    """Replace the policy (audited with the old and new values). Nobody's tier changes now."""
    policy = await get(session)
    before = as_input(policy).model_dump(mode="json")
    for name, value in data.model_dump().items():
        setattr(policy, name, value)
    policy.updated_by = actor.name
    policy.updated_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="tiers.policy.update",
        target_type="tier_policy",
        target_id="policy",
        details={"before": before, "after": data.model_dump(mode="json")},
    )
    return policy


# --- the qualifying figure -----------------------------------------------------------------------------------


def label(policy: TierPolicyIn) -> str:
    """The basis as a person reads it in a reason: "rolling 12-month spend"."""
    if policy.basis == Basis.ROLLING_SPEND:
        return f"rolling {policy.window_months}-month spend"
    if policy.basis == Basis.POINTS_EARNED:
        return f"points earned in {policy.window_months} months"
    return "lifetime spend"


def shown(policy: TierPolicyIn, amount: Decimal) -> str:
    """A figure or threshold in the basis's unit: 1,000.00 (spend) or 1,000 points."""
    if policy.basis == Basis.POINTS_EARNED:
        return f"{int(amount):,} points"
    return f"{amount:,.2f}"


def qualifies_for(tiers: Sequence[Tier], figure: Decimal) -> Tier:
    """The highest tier whose threshold the figure is strictly above (for points earned, the threshold is read
    as a number of points); the base tier always applies."""
    reached = tiers[0]
    for tier in tiers[1:]:
        if figure > tier.min_spend_exclusive:
            reached = tier
    return reached


def still_needed(policy: TierPolicyIn, tier: Tier, figure: Decimal) -> Decimal:
    """What the figure still lacks to be strictly above the tier's threshold: 0.01 above it in money, one
    point above it in points."""
    step = Decimal("1") if policy.basis == Basis.POINTS_EARNED else Decimal("0.01")
    threshold = (
        Decimal(int(tier.min_spend_exclusive)) if policy.basis == Basis.POINTS_EARNED else tier.min_spend_exclusive
    )
    return max(Decimal("0"), threshold + step - figure)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """What counts towards a member's figure: from `since` (exclusive) to `until` (exclusive)."""

    member_id: uuid.UUID
    since: datetime
    until: datetime


def window_ending(
    policy: TierPolicyIn, member_id: uuid.UUID, last_day: date, *, counted_to: date | None = None
) -> Window:
    """The window_months up to and including `last_day`; `counted_to` stops counting earlier (a notice
    judged today counts what happened until today)."""
    until = day_start(last_day) + timedelta(days=1)
    counted = until if counted_to is None else min(until, day_start(counted_to) + timedelta(days=1))
    return Window(member_id, add_months(until, -policy.window_months), counted)


_ROLLING_SPEND = text(
    """
    SELECT w.member_id, coalesce(sum(o.amount - o.refunded_amount), 0) AS figure
    FROM unnest(CAST(:ids AS uuid[]), CAST(:since AS timestamptz[]), CAST(:until AS timestamptz[]))
         AS w(member_id, since, until)
    LEFT JOIN orders o ON o.member_id = w.member_id AND o.status <> 'refunded'
         AND o.placed_at >= w.since AND o.placed_at < w.until
    GROUP BY w.member_id
    """
)
# Earn postings to the member's own account; an order's earn counts at the order's time, others at posting.
_POINTS_EARNED = text(
    """
    SELECT w.member_id, coalesce(sum(e.amount), 0) AS figure
    FROM unnest(CAST(:ids AS uuid[]), CAST(:since AS timestamptz[]), CAST(:until AS timestamptz[]))
         AS w(member_id, since, until)
    LEFT JOIN (
        SELECT t.member_id, e.amount, coalesce(o.placed_at, t.created_at) AS at
        FROM ledger_transactions t
        JOIN ledger_entries e ON e.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = e.account_id AND a.member_id = t.member_id
        LEFT JOIN orders o ON t.reference_type = 'order' AND o.id::text = t.reference_id
        WHERE t.kind = 'earn' AND t.member_id = ANY(CAST(:ids AS uuid[]))
    ) e ON e.member_id = w.member_id AND e.at >= w.since AND e.at < w.until
    GROUP BY w.member_id
    """
)


async def figures(session: AsyncSession, policy: TierPolicyIn, windows: Sequence[Window]) -> dict[uuid.UUID, Decimal]:
    """Each member's qualifying figure over their window (lifetime spend ignores the window)."""
    if not windows:
        return {}
    ids = [w.member_id for w in windows]
    if policy.basis == Basis.LIFETIME_SPEND:
        rows = await session.execute(select(Member.id, Member.lifetime_spend).where(Member.id.in_(ids)))
        return {row[0]: Decimal(row[1]) for row in rows}
    query = _ROLLING_SPEND if policy.basis == Basis.ROLLING_SPEND else _POINTS_EARNED
    params = {"ids": ids, "since": [w.since for w in windows], "until": [w.until for w in windows]}
    return {row.member_id: Decimal(row.figure) for row in await session.execute(query, params)}
