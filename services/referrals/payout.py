"""A referral from the referee's first order to its end: the order starts the Referral workflow (through the
outbox, in the order's transaction), a refund of that order signals it, and when the return window has passed
the workflow's activity pays both members here, or cancels.

Each reward is paid exactly once: the referral row is locked and settled in the same transaction as the
payment, and the payment itself is idempotent by key (`referral:{id}:referrer` / `referral:{id}:referee` as the
ledger's idempotency key or the coupon's issue key), so a retried activity or a second run pays nothing twice.
The payout re-reads the order too: a refund the signal did not reach (recorded just as the window closed)
still cancels it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.settings import get_settings
from core.timeutil import add_months
from models import Member, OrderRefund, Referral, ReferralProgramme
from services import members
from services.loyalty import ledger
from services.platform import outbox
from services.referrals import programme
from services.referrals.programme import RewardKind
from services.rewards import coupons
from workflows import contracts

SIDES = ("referrer", "referee")
REASONS = {
    "referrer": "Referral reward: a friend you invited made their first order",
    "referee": "Referral reward: your first order as an invited friend",
}


async def on_order_completed(
    session: AsyncSession, member_id: uuid.UUID, order_id: uuid.UUID, *, task_queue: str, now: datetime | None = None
) -> bool:
    """The member's first order since they were linked: the referral qualifies, and its workflow is queued
    with the programme's return window. False when the member was referred by no one, or had qualified."""
    referral_id = (
        await session.execute(
            update(Referral)
            .where(Referral.referee_id == member_id, Referral.status == "linked")
            .values(status="qualifying", order_id=order_id, qualified_at=now or datetime.now(UTC))
            .returning(Referral.id)
        )
    ).scalar_one_or_none()
    if referral_id is None:
        return False
    window = (await programme.get(session)).return_window_days
    inp = contracts.ReferralInput(
        referral_id=str(referral_id), referee_id=str(member_id), order_id=str(order_id), window_days=window
    )
    await outbox.enqueue_start(session, contracts.referral_start(inp, task_queue=task_queue))
    return True


async def on_order_refunded(session: AsyncSession, order_id: uuid.UUID, refund_id: uuid.UUID) -> bool:
    """A refund of an order a referral waits on tells its workflow (which cancels the rewards)."""
    referee_id = (
        await session.execute(
            select(Referral.referee_id).where(Referral.order_id == order_id, Referral.status == "qualifying")
        )
    ).scalar_one_or_none()
    if referee_id is None:
        return False
    await outbox.enqueue_signal(session, contracts.referral_refund_signal(referee_id, refund_id))
    return True


async def _locked(session: AsyncSession, referral_id: uuid.UUID) -> Referral:
    row = (
        await session.execute(select(Referral).where(Referral.id == referral_id).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"referral {referral_id} does not exist", code="referral_not_found")
    return row


async def cancel(session: AsyncSession, referral_id: uuid.UUID, reason: str, *, now: datetime | None = None) -> str:
    """Cancel a qualifying referral; a settled one keeps its status (returned)."""
    row = await _locked(session, referral_id)
    if row.status == "qualifying":
        row.status, row.cancel_reason, row.decided_at = "cancelled", reason, now or datetime.now(UTC)
        await session.flush()
    return row.status


@dataclass(frozen=True)
class _Paid:
    points: int = 0
    coupon_id: uuid.UUID | None = None


async def _pay(
    session: AsyncSession, row: Referral, side: str, member: Member, settings: ReferralProgramme, now: datetime
) -> _Paid:
    key = f"referral:{row.id}:{side}"
    if getattr(settings, f"{side}_reward") == RewardKind.COUPON:
        template = getattr(settings, f"{side}_coupon")
        try:
            view = await coupons.issue(
                session, coupons.CouponIssue(template_code=template, member_id=member.id, issue_key=key)
            )
        except (Conflict, NotFound):  # the template was switched off or the member had its limit: nothing
            return _Paid()
        return _Paid(coupon_id=view.coupon.id)
    points: int = getattr(settings, f"{side}_points")
    if points <= 0:
        return _Paid()
    await ledger.credit(
        session,
        member_id=member.id,
        points=points,
        kind=ledger.TxKind.EARN,
        reason=REASONS[side],
        idempotency_key=key,
        reference=("referral", str(row.id)),
        expires_at=add_months(now, get_settings().points.expiry_months),
    )
    return _Paid(points=points)


async def reward(session: AsyncSession, referral_id: uuid.UUID, *, now: datetime | None = None) -> str:
    """Pay both members the programme's rewards (an erased member gets none) and mark the referral rewarded;
    a refunded order cancels it instead. A settled referral is returned as it is: nothing is paid again."""
    now = now or datetime.now(UTC)
    row = await _locked(session, referral_id)
    if row.status != "qualifying":
        return row.status
    refunded = (await session.execute(select(exists().where(OrderRefund.order_id == row.order_id)))).scalar_one()
    if refunded:
        return await cancel(session, referral_id, "order_refunded", now=now)
    settings = await programme.get(session)
    for side in SIDES:
        member = await members.get(session, getattr(row, f"{side}_id"))
        paid = _Paid() if member.erased_at is not None else await _pay(session, row, side, member, settings, now)
        setattr(row, f"{side}_points", paid.points)
        setattr(row, f"{side}_coupon_id", paid.coupon_id)
    row.status, row.decided_at = "rewarded", now
    await session.flush()
    return row.status
