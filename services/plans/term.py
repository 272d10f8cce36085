"""The steps of a membership's PlanTerm workflow, each one transaction that reads the membership's row: its
state, the monthly coupon, the expiry. The row is the truth (a renewal moves `ends_at`, a cancellation sets the
status), so a step the workflow takes late or twice still does the right thing once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.timeutil import add_months
from models import Membership, Plan
from services import members
from services.plans import catalog
from services.plans.memberships import ACTIVE, ENDED, get
from services.rewards import coupons


@dataclass(frozen=True)
class TermState:
    membership_id: uuid.UUID
    member_id: uuid.UUID
    status: str
    started_at: datetime
    ends_at: datetime
    plan: Plan


async def state(session: AsyncSession, membership_id: uuid.UUID) -> TermState:
    membership = await get(session, membership_id)
    return await _state(session, membership)


async def _state(session: AsyncSession, membership: Membership) -> TermState:
    plan = await catalog.get(session, membership.plan_id)
    return TermState(
        membership_id=membership.id,
        member_id=membership.member_id,
        status=membership.status,
        started_at=membership.started_at,
        ends_at=membership.ends_at,
        plan=plan,
    )


def grant_due(started_at: datetime, month: int) -> datetime:
    """When the coupon of month `month` (0: the start) falls due."""
    return add_months(started_at, month)


def grant_dues(started_at: datetime, ends_at: datetime) -> list[datetime]:
    """Every month's due moment before the end: a 12-month term has 12 (the start and 11 more)."""
    dues: list[datetime] = []
    while (due := grant_due(started_at, len(dues))) < ends_at:
        dues.append(due)
    return dues


def coupon_key(membership_id: uuid.UUID, month: int) -> str:
    return f"membership:{membership_id}:coupon:{month}"


async def grant_coupon(session: AsyncSession, membership_id: uuid.UUID, month: int) -> str:
    """The month's coupon, once (its issue key is the membership's and the month's): "granted", or why not
    ("inactive" membership, "past_end", "no_coupon", or the coupon service's refusal code)."""
    membership = await get(session, membership_id)
    await members.get(session, membership.member_id, for_update=True)
    membership = await get(session, membership_id, for_update=True)
    if membership.status != ACTIVE:
        return "inactive"
    if grant_due(membership.started_at, month) >= membership.ends_at:
        return "past_end"
    plan = await catalog.get(session, membership.plan_id)
    if plan.monthly_coupon is None:
        return "no_coupon"
    member = await members.get(session, membership.member_id)
    if member.erased_at is not None:
        return "member_erased"
    issue = coupons.CouponIssue(
        template_code=plan.monthly_coupon, member_id=membership.member_id, issue_key=coupon_key(membership_id, month)
    )
    try:
        await coupons.issue(session, issue)
    except (Conflict, NotFound) as refused:  # template gone, inactive or at its limit: the month is skipped
        return refused.code
    return "granted"


async def expire(session: AsyncSession, membership_id: uuid.UUID, at: datetime) -> TermState:
    """End the membership's benefits if its end has come; a renewal that moved the end, or a cancellation, is
    answered with the state as it is now."""
    membership = await get(session, membership_id)
    await members.get(session, membership.member_id, for_update=True)
    membership = await get(session, membership_id, for_update=True)
    if membership.status == ACTIVE and membership.ends_at <= at:
        membership.status = ENDED
        membership.ended_at = membership.ends_at
        await session.flush()
    return await _state(session, membership)
