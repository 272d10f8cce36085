"""Memberships: started or renewed by the shop's plan order (in the order's transaction, the member row locked),
cancelled by staff or the shop with the proportional refund recorded, and read for the member's benefits.

A member holds at most one active membership of a plan. A second order of the plan renews it: the end moves
one term on and the running PlanTerm workflow is nudged to read it. Bought within RENEWAL_WINDOW after a
membership ended, it is a renewal too, as a new membership that names the one it continues (so the KPIs do
not count that member as churned); the ended workflow is never reused."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.ids import uuid7
from core.timeutil import add_months
from models import Membership, MembershipPeriod, Plan
from services import members
from services.loyalty.money import CENT
from services.plans import catalog
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows import contracts

RENEWAL_WINDOW = timedelta(days=30)
ACTIVE = "active"
ENDED = "ended"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class PlanLine:
    """One order line as the plans read it: the SKU, how many terms, what they cost."""

    sku: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class OrderPlans:
    """What an order needs of the plans, from one statement: the multiplier the member's active plans give, and
    the active plans the order's lines buy, by SKU."""

    multiplier: Decimal
    buying: dict[str, Plan]


async def for_order(session: AsyncSession, member_id: uuid.UUID, skus: set[str], at: datetime) -> OrderPlans:
    """One query for every order (the ingest path's statements are pinned): the plans the member holds now and
    the plans these SKUs buy. A membership past its end gives nothing even before its workflow ends it."""
    held = (
        select(Membership.plan_id)
        .where(Membership.member_id == member_id, Membership.status == ACTIVE, Membership.ends_at > at)
        .scalar_subquery()
    )
    is_held = Plan.id.in_(held)
    stmt = select(Plan, is_held.label("held")).where(or_(is_held, Plan.sku.in_(skus) & Plan.active.is_(True)))
    multiplier, buying = Decimal("1"), {}
    for plan, holds in (await session.execute(stmt)).all():
        if holds:
            multiplier = max(multiplier, plan.earn_multiplier)
        if plan.sku in skus and plan.active:
            buying[plan.sku] = plan
    return OrderPlans(multiplier=multiplier, buying=buying)


async def on_order(
    session: AsyncSession,
    member_id: uuid.UUID,
    order_id: uuid.UUID,
    lines: Sequence[PlanLine],
    buying: dict[str, Plan],
    *,
    at: datetime,
    task_queue: str,
) -> list[Membership]:
    """Start or renew the memberships an order's lines buy (`buying`, from `for_order`). The caller holds the
    member's row lock, so two orders of one member never both find "no active membership" and start two."""
    bought: dict[str, PlanLine] = {}
    for line in lines:
        if line.sku not in buying:
            continue
        seen = bought.get(line.sku)
        bought[line.sku] = (
            line if seen is None else PlanLine(line.sku, seen.quantity + line.quantity, seen.amount + line.amount)
        )
    return [
        await _buy(session, member_id, buying[sku], order_id, bought[sku], at=at, task_queue=task_queue)
        for sku in sorted(bought)
    ]


async def _active(session: AsyncSession, member_id: uuid.UUID, plan_id: uuid.UUID) -> Membership | None:
    stmt = (
        select(Membership)
        .where(Membership.member_id == member_id, Membership.plan_id == plan_id, Membership.status == ACTIVE)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _recently_ended(
    session: AsyncSession, member_id: uuid.UUID, plan_id: uuid.UUID, at: datetime
) -> Membership | None:
    stmt = (
        select(Membership)
        .where(
            Membership.member_id == member_id,
            Membership.plan_id == plan_id,
            Membership.status == ENDED,
            Membership.ended_at >= at - RENEWAL_WINDOW,
        )
        .order_by(Membership.ended_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _buy(
    session: AsyncSession,
    member_id: uuid.UUID,
    plan: Plan,
    order_id: uuid.UUID,
    line: PlanLine,
    *,
    at: datetime,
    task_queue: str,
) -> Membership:
    months = plan.term_months * line.quantity
    current = await _active(session, member_id, plan.id)
    if current is not None:
        # Renewed before the end: the new term follows the old one (or starts now, if the expiry is overdue).
        starts = max(current.ends_at, at)
        current.ends_at = add_months(starts, months)
        current.renewals += 1
        _period(session, current, order_id, "renewal", starts, line.amount)
        await outbox.enqueue_signal(session, contracts.membership_changed_signal(current.id))
        await session.flush()
        return current
    previous = await _recently_ended(session, member_id, plan.id, at)
    membership = Membership(
        id=uuid7(),
        member_id=member_id,
        plan_id=plan.id,
        status=ACTIVE,
        started_at=at,
        ends_at=add_months(at, months),
        renewals=0,
        renewed_from_id=previous.id if previous is not None else None,
    )
    session.add(membership)
    await session.flush()
    _period(session, membership, order_id, "start" if previous is None else "renewal", at, line.amount)
    start = contracts.plan_term_start(
        contracts.PlanTermInput(membership_id=str(membership.id)), member_id=member_id, task_queue=task_queue
    )
    await outbox.enqueue_start(session, start)
    return membership


def _period(
    session: AsyncSession, membership: Membership, order_id: uuid.UUID, kind: str, starts: datetime, amount: Decimal
) -> None:
    session.add(
        MembershipPeriod(
            membership_id=membership.id,
            order_id=order_id,
            kind=kind,
            starts_at=starts,
            ends_at=membership.ends_at,
            amount=amount,
        )
    )


async def get(session: AsyncSession, membership_id: uuid.UUID, *, for_update: bool = False) -> Membership:
    stmt = select(Membership).where(Membership.id == membership_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"membership {membership_id} does not exist", code="membership_not_found")
    return found


async def periods(session: AsyncSession, membership_id: uuid.UUID) -> list[MembershipPeriod]:
    stmt = select(MembershipPeriod).where(MembershipPeriod.membership_id == membership_id)
    return list((await session.execute(stmt.order_by(MembershipPeriod.starts_at))).scalars())


def refund_for(paid: Sequence[MembershipPeriod], at: datetime) -> Decimal:
    """The unused share of what was paid, by days: a period not begun is refunded whole, the current one for
    its days left (a day begun counts as used), a past one not at all. Rounded down to the cent, once."""
    total = Decimal("0")
    for period in paid:
        if at >= period.ends_at:
            continue
        days = (period.ends_at - period.starts_at).days
        used = 0 if at <= period.starts_at else math.ceil((at - period.starts_at) / timedelta(days=1))
        unused = max(0, days - used)
        total += period.amount * unused / days
    return total.quantize(CENT, rounding=ROUND_FLOOR)


async def cancel(session: AsyncSession, membership_id: uuid.UUID, *, at: datetime, actor: Actor | None) -> Membership:
    """End an active membership now. With `refund_on_cancel: proportional` the refund owed is recorded on it
    (the shop pays it back); benefits end at once and its workflow stops at its next look (nudged here)."""
    found = await get(session, membership_id)
    await members.get(session, found.member_id, for_update=True)  # the order path's lock order: member first
    membership = await get(session, membership_id, for_update=True)
    if membership.status != ACTIVE:
        raise Conflict(f"this membership is {membership.status}, not active", code="membership_not_active")
    plan = await catalog.get(session, membership.plan_id)
    refund = Decimal("0.00")
    if plan.refund_on_cancel == catalog.Refund.PROPORTIONAL:
        refund = refund_for(await periods(session, membership.id), at)
    membership.status = CANCELLED
    membership.ended_at = at
    membership.refund_amount = refund
    await outbox.enqueue_signal(session, contracts.membership_changed_signal(membership.id))
    await session.flush()
    if actor is not None:
        await audit.record(
            session,
            actor,
            action="membership.cancel",
            target_type="membership",
            target_id=str(membership.id),
            details={"plan": plan.code, "member_id": str(membership.member_id), "refund_amount": str(refund)},
        )
    return membership


@dataclass(frozen=True)
class MemberPlan:
    """The member's current paid plan, as the 360 view, the member API and the portal show it."""

    membership: Membership
    plan: Plan


async def current(session: AsyncSession, member_id: uuid.UUID, at: datetime) -> MemberPlan | None:
    """The active membership ending last, with its plan; None without one."""
    stmt = (
        select(Membership, Plan)
        .join(Plan, Plan.id == Membership.plan_id)
        .where(Membership.member_id == member_id, Membership.status == ACTIVE, Membership.ends_at > at)
        .order_by(Membership.ends_at.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else MemberPlan(membership=row[0], plan=row[1])


async def of_member(session: AsyncSession, member_id: uuid.UUID) -> list[MemberPlan]:
    """Every membership of the member, newest first."""
    stmt = (
        select(Membership, Plan)
        .join(Plan, Plan.id == Membership.plan_id)
        .where(Membership.member_id == member_id)
        .order_by(Membership.started_at.desc(), Membership.id.desc())
    )
    return [MemberPlan(membership=m, plan=p) for m, p in (await session.execute(stmt)).all()]
