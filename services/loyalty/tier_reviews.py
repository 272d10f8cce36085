"""When members are reviewed and what a review decides: keep, rise, or fall (at most max_drop_per_review
tiers), and the dry run of a proposed policy. Applying a decision, with its events, is the intake's
(services.intake.tier_review); this module changes nothing.

Dates are UTC calendar days. A member's review date is the policy's yearly date, or the anniversary of
reaching their tier (29 February counts on 28 February in other years, and a first anniversary comes a full
year after the tier was reached). The decision is taken `grace_days` after the review date, on the figure of
the window that ends that day: the grace is time in which the member keeps the tier and can still requalify."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, Tier
from services.loyalty import tier_policy, tiers
from services.loyalty.tier_policy import Basis, ReviewRule, TierPolicyIn

Outcome = Literal["rise", "keep", "fall"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    current: Tier
    new: Tier
    qualified: Tier  # what the figure alone buys
    figure: Decimal

    def reason(self, policy: TierPolicyIn) -> str:
        figure = f"{tier_policy.label(policy)} {tier_policy.shown(policy, self.figure)}"
        if self.outcome == "rise":
            threshold = tier_policy.shown(policy, self.new.min_spend_exclusive)
            return f"review: {figure} above {self.new.name}'s {threshold}"
        threshold = tier_policy.shown(policy, self.current.min_spend_exclusive)
        return f"review: {figure} below {self.current.name}'s {threshold}"


def decide(policy: TierPolicyIn, ladder: Sequence[Tier], current: Tier, figure: Decimal) -> Decision:
    """Keep, rise to what the figure buys, or fall towards it by at most max_drop_per_review tiers. Lifetime
    spend never falls, so under it a review keeps everyone."""
    qualified = tier_policy.qualifies_for(ladder, figure)
    if policy.basis == Basis.LIFETIME_SPEND or qualified.rank == current.rank:
        return Decision("keep", current, current, qualified, figure)
    if qualified.rank > current.rank:
        return Decision("rise", current, qualified, qualified, figure)
    lowest = max(qualified.rank, current.rank - policy.max_drop_per_review)
    new = next(tier for tier in ladder if tier.rank == lowest)
    return Decision("fall", current, new, qualified, figure)


def current_tier(ladder: Sequence[Tier], member: Member) -> Tier:
    return tiers.find(ladder, member.tier) or tiers.tier_for(ladder, member.lifetime_spend)


# --- review dates --------------------------------------------------------------------------------------------


def _anniversary(start: date, year: int) -> date:
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return date(year, start.month, day)


def tier_start(member: Member) -> date:
    """The day the member reached their tier (sign-up for one who never changed)."""
    return (member.tier_since or member.created_at).astimezone(UTC).date()


def next_review(policy: TierPolicyIn, member: Member, today: date) -> date:
    """The member's first review date on or after today (whose decision is grace_days later)."""
    if policy.review_rule == ReviewRule.YEARLY:
        this_year = date(today.year, policy.review_month, policy.review_day)
        return this_year if this_year >= today else date(today.year + 1, policy.review_month, policy.review_day)
    start = tier_start(member)
    year = max(today.year, start.year + 1)
    review = _anniversary(start, year)
    return review if review >= today else _anniversary(start, year + 1)


def _due_on(policy: TierPolicyIn, review_on: date) -> ColumnElement[bool]:
    """Members whose review date is `review_on`."""
    if policy.review_rule == ReviewRule.YEARLY:
        return true() if (review_on.month, review_on.day) == (policy.review_month, policy.review_day) else false()
    since = func.timezone("UTC", func.coalesce(Member.tier_since, Member.created_at))
    month, day = func.extract("month", since), func.extract("day", since)
    on_day = and_(month == review_on.month, day == review_on.day)
    last_of_february = review_on.month == 2 and review_on.day == 28 and not calendar.isleap(review_on.year)
    if last_of_february:  # 29 February's anniversaries fall on the 28th in other years
        on_day = or_(on_day, and_(month == 2, day == 29))
    a_year_before = _anniversary(review_on, review_on.year - 1)
    return and_(on_day, func.date(since) <= a_year_before)


async def due_members(
    session: AsyncSession,
    policy: TierPolicyIn,
    review_on: date,
    *,
    after: uuid.UUID | None,
    limit: int,
    above_base: bool = False,
    lock: bool = False,
) -> list[Member]:
    """One page (by id, after `after`) of the members whose review date is `review_on`; `above_base`: only
    those who hold a tier they could lose; `lock`: their rows locked in id order."""
    stmt = select(Member).where(Member.erased_at.is_(None), _due_on(policy, review_on))
    if after is not None:
        stmt = stmt.where(Member.id > after)
    if above_base:
        base = select(Tier.code).order_by(Tier.rank).limit(1).scalar_subquery()
        stmt = stmt.where(Member.tier != base)
    stmt = stmt.order_by(Member.id).limit(limit)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars().all())


# --- the dry run ---------------------------------------------------------------------------------------------


@dataclass
class TierForecast:
    tier: str
    rise: int = 0
    keep: int = 0
    fall: int = 0


DRY_RUN_PAGE = 1000


async def dry_run(session: AsyncSession, policy: TierPolicyIn, *, today: date) -> list[TierForecast]:
    """How many members of each tier would rise, keep or fall at their next review under `policy`, on what is
    recorded today (orders to come are not guessed). Changes nothing."""
    ladder = await tiers.ladder(session)
    forecast = {tier.code: TierForecast(tier.code) for tier in ladder}
    after: uuid.UUID | None = None
    while True:
        stmt = select(Member).where(Member.erased_at.is_(None)).order_by(Member.id).limit(DRY_RUN_PAGE)
        if after is not None:
            stmt = stmt.where(Member.id > after)
        page = list((await session.execute(stmt)).scalars().all())
        if not page:
            break
        decided = {m.id: next_review(policy, m, today) + timedelta(days=policy.grace_days) for m in page}
        windows = [tier_policy.window_ending(policy, m.id, decided[m.id], counted_to=today) for m in page]
        figures = await tier_policy.figures(session, policy, windows)
        for member in page:
            current = current_tier(ladder, member)
            decision = decide(policy, ladder, current, figures.get(member.id, Decimal(0)))
            row = forecast.setdefault(current.code, TierForecast(current.code))
            setattr(row, decision.outcome, getattr(row, decision.outcome) + 1)
        after = page[-1].id
    return list(forecast.values())


# --- one member's standing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """Where a member stands before their next review: when it comes (and when it decides, after the grace),
    their figure so far and what it still lacks to keep the tier. `reviewed` is False under lifetime spend,
    which never falls; `needed` is 0 for the base tier and for a member whose figure already keeps it."""

    reviewed: bool
    basis: str
    review_on: date
    decided_on: date
    figure: Decimal
    needed: Decimal
    outcome: Outcome  # what the review would decide on the figure so far
    tier: Tier
    figure_shown: str  # in the basis's unit: "1,000.00" or "1,000 points"
    needed_shown: str


async def standing(session: AsyncSession, member: Member, *, today: date) -> Standing:
    """The member's next review under the current policy, judged on what is recorded today (the figure the
    review would count if nothing else happened)."""
    policy = tier_policy.as_input(await tier_policy.get(session))
    ladder = await tiers.ladder(session)
    review_on = next_review(policy, member, today)
    decided_on = review_on + timedelta(days=policy.grace_days)
    window = tier_policy.window_ending(policy, member.id, decided_on, counted_to=today)
    figure = (await tier_policy.figures(session, policy, [window])).get(member.id, Decimal(0))
    current = current_tier(ladder, member)
    decision = decide(policy, ladder, current, figure)
    base = current.rank == ladder[0].rank
    needed = Decimal(0) if base or decision.outcome != "fall" else tier_policy.still_needed(policy, current, figure)
    return Standing(
        reviewed=policy.basis != Basis.LIFETIME_SPEND,
        basis=tier_policy.label(policy),
        review_on=review_on,
        decided_on=decided_on,
        figure=figure,
        needed=needed,
        outcome=decision.outcome,
        tier=current,
        figure_shown=tier_policy.shown(policy, figure),
        needed_shown=tier_policy.shown(policy, needed),
    )
