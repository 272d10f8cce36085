"""A member's progress on a challenge, recomputed from the database: the orders placed and the check-ins made
inside the window (check-in days are the member's local days, as the portal's check-in counts them), and
whether the profile was ever completed. Recomputing rather than counting signals makes a repeated or
out-of-order event harmless."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import MemberEvent, Order
from services.challenges.definition import Goal, GoalKind

CHECKED_IN = "checked_in"
PROFILE_COMPLETED = "profile_completed"


@dataclass(frozen=True)
class Facts:
    """What the goals of one window are measured on."""

    profile_completed: bool
    orders: int
    spend: Decimal
    checkin_days: list[date]  # distinct local days, oldest first


def _zone(name: str) -> str:
    try:
        return str(ZoneInfo(name))
    except (ValueError, KeyError):
        return "UTC"


async def facts(session: AsyncSession, member_id: uuid.UUID, timezone: str, start: datetime, end: datetime) -> Facts:
    """The member's facts in [start, end): one query for orders, one for check-in days, one for the profile."""
    orders = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Order.amount), 0)).where(
                Order.member_id == member_id,
                Order.placed_at >= start,
                Order.placed_at < end,
                Order.status != "refunded",
            )
        )
    ).one()
    day = func.date(func.timezone(_zone(timezone), MemberEvent.occurred_at))
    days = (
        await session.execute(
            select(day)
            .where(
                MemberEvent.member_id == member_id,
                MemberEvent.type == CHECKED_IN,
                MemberEvent.occurred_at >= start,
                MemberEvent.occurred_at < end,
            )
            .group_by(day)
            .order_by(day)
        )
    ).scalars()
    profile = (
        await session.execute(
            select(MemberEvent.id)
            .where(
                MemberEvent.member_id == member_id,
                MemberEvent.type == PROFILE_COMPLETED,
                MemberEvent.occurred_at < end,
            )
            .limit(1)
        )
    ).first()
    return Facts(profile is not None, int(orders[0]), Decimal(orders[1]), list(days))


def streaks(days: list[date]) -> tuple[int, int]:
    """(longest run of consecutive days, the run that ends on the latest day): a missed day restarts the latter."""
    longest = current = 0
    previous: date | None = None
    for day in days:
        current = current + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, current)
        previous = day
    return longest, current


def measure(goal: Goal, found: Facts) -> tuple[Decimal, bool, dict[str, Any]]:
    """(value shown, met, extra fields) for one goal. A streak shows the current run until the goal is met."""
    if goal.kind == GoalKind.PROFILE_COMPLETED:
        value = Decimal(int(found.profile_completed))
    elif goal.kind == GoalKind.ORDER_COUNT:
        value = Decimal(found.orders)
    elif goal.kind == GoalKind.SPEND:
        value = found.spend
    elif goal.kind == GoalKind.CHECKIN_DAYS:
        value = Decimal(len(found.checkin_days))
    else:
        longest, current = streaks(found.checkin_days)
        met = longest >= goal.target
        return (goal.target if met else Decimal(current)), met, {"best": longest}
    return value, value >= goal.target, {}


def progress(goals: list[Goal], found: Facts) -> tuple[list[dict[str, Any]], bool]:
    """The stored progress (one entry per goal) and whether every goal is met."""
    entries: list[dict[str, Any]] = []
    all_met = True
    for goal in goals:
        value, met, extra = measure(goal, found)
        all_met = all_met and met
        entries.append(
            {"kind": goal.kind.value, "target": number(goal.target), "value": number(value), "met": met} | extra
        )
    return entries, all_met


def number(value: Decimal) -> str:
    """Counts as whole numbers, money with its two places, as strings (JSON has no decimals)."""
    return (
        str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value.quantize(Decimal("0.01")))
    )
