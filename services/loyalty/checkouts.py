"""Points at checkout: a checkout holds the member's points (available drops, posted does not) until the order
completes and captures them, the shopper abandons it (release) or its CheckoutHold workflow's timer runs out
(expire); a refund of the order gives the points back in proportion.

Every change of a checkout locks its row first, so a capture racing a release or the timer settles it exactly
once: whoever locks second finds it settled. The ledger's own hold states (posted, voided, expired) and its
conditional balance update back that up: two checkouts can never hold the same points."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from core.ids import uuid7
from core.settings import get_settings
from core.timeutil import add_months
from models import Checkout, CheckoutSettings, Order
from services import members
from services.loyalty import ledger
from services.loyalty.checkout_rate import (
    MAX_POINTS,
    Currency,
    cap_points,
    check_currency,
    current,
    resolve_member,
    value_of,
)
from services.loyalty.money import Money
from services.platform import outbox
from workflows import contracts

CheckoutExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: CheckoutExternalId = Field(description="the shop's checkout id: the same checkout holds once")
    member_id: uuid.UUID | None = None
    member_external_id: members.ExternalId | None = None
    order_amount: Money
    currency: Currency
    points: int = Field(ge=1, le=MAX_POINTS)
    # How long this checkout's hold lasts; the programme's `hold_minutes` when not given.
    expires_in_minutes: int | None = Field(default=None, ge=1, le=1440)


class CaptureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: uuid.UUID = Field(description="the ingested order the points paid for")


def _problem(message: str, code: str, field: str, detail: str) -> InvalidInput:
    return InvalidInput(message, code=code, details=[{"field": field, "message": detail}])


def _check_points(points: int, order_amount: Decimal, rate: CheckoutSettings) -> None:
    if points % rate.points_per_unit:
        raise _problem(
            f"points are used in whole units of {rate.points_per_unit}",
            "points_not_whole_units",
            "body.points",
            f"a multiple of {rate.points_per_unit}",
        )
    if points < rate.min_points:
        raise _problem(
            f"a checkout uses at least {rate.min_points} points",
            "below_minimum",
            "body.points",
            f"at least {rate.min_points}",
        )
    cap = cap_points(order_amount, rate)
    if points > cap:
        raise _problem(
            f"points may pay at most {rate.max_percent}% of this order: {cap} points",
            "above_cap",
            "body.points",
            f"at most {cap}",
        )


def _same_request(checkout: Checkout, member_id: uuid.UUID, data: CheckoutCreate) -> bool:
    return (checkout.member_id, checkout.order_amount, checkout.currency, checkout.points) == (
        member_id,
        data.order_amount,
        data.currency,
        data.points,
    )


async def _by_external_id(session: AsyncSession, external_id: str) -> Checkout | None:
    found: Checkout | None = (
        await session.execute(select(Checkout).where(Checkout.external_id == external_id))
    ).scalar_one_or_none()
    return found


def _replay(existing: Checkout, member_id: uuid.UUID, data: CheckoutCreate) -> Checkout:
    if not _same_request(existing, member_id, data):
        raise Conflict(
            f"checkout {data.external_id!r} was already made with other figures",
            code="checkout_exists",
            details={"checkout_id": str(existing.id)},
        )
    return existing


async def create(
    session: AsyncSession, data: CheckoutCreate, *, task_queue: str, now: datetime | None = None
) -> Checkout:
    """Hold the points for one checkout and start its timer. The same external id with the same figures
    returns the first checkout; with others it is 409. Nothing is written when a check fails."""
    rate = await current(session)
    if not rate.enabled:
        raise Conflict("paying with points is switched off for this programme", code="points_payment_disabled")
    check_currency(data.currency, rate)
    member = await resolve_member(session, data.member_id, data.member_external_id)
    _check_points(data.points, data.order_amount, rate)
    existing = await _by_external_id(session, data.external_id)
    if existing is not None:
        return _replay(existing, member.id, data)
    moment = now or datetime.now(UTC)
    checkout_id, hold_id = uuid7(), uuid7()
    value = value_of(data.points, rate)
    expires_at = moment + timedelta(minutes=data.expires_in_minutes or rate.hold_minutes)
    inserted = (
        await session.execute(
            insert(Checkout)
            .values(
                id=checkout_id,
                external_id=data.external_id,
                member_id=member.id,
                order_amount=data.order_amount,
                currency=data.currency,
                points=data.points,
                value=value,
                status="held",
                hold_id=hold_id,
                points_refunded=0,
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["external_id"])
            .returning(Checkout)
        )
    ).scalar_one_or_none()
    if inserted is None:  # the same checkout, committed by a concurrent request meanwhile
        raced = await _by_external_id(session, data.external_id)
        assert raced is not None
        return _replay(raced, member.id, data)
    await ledger.hold(
        session,
        member_id=member.id,
        points=data.points,
        reason=f"Checkout {data.external_id}: {data.points} points for {value} {data.currency}",
        idempotency_key=f"checkout:{checkout_id}:hold",
        hold_id=hold_id,
        reference=("checkout", str(checkout_id)),
    )
    start = contracts.checkout_hold_start(
        contracts.CheckoutInput(checkout_id=str(checkout_id), expires_at=expires_at),
        member_id=member.id,
        task_queue=task_queue,
    )
    await outbox.enqueue_start(session, start)
    return inserted


async def get(session: AsyncSession, checkout_id: uuid.UUID, *, for_update: bool = False) -> Checkout:
    stmt = select(Checkout).where(Checkout.id == checkout_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"checkout {checkout_id} does not exist", code="checkout_not_found")
    return found


def _settled_conflict(checkout: Checkout) -> Conflict:
    details = {"status": checkout.status, "order_id": str(checkout.order_id) if checkout.order_id else None}
    return Conflict(f"this checkout was already {checkout.status}", code=f"checkout_{checkout.status}", details=details)


async def _settle(session: AsyncSession, checkout: Checkout, status: str) -> None:
    checkout.status = status
    checkout.resolved_at = datetime.now(UTC)
    await session.flush()


async def capture(session: AsyncSession, checkout_id: uuid.UUID, order: Order, *, field: str) -> Checkout:
    """Spend the held points on `order` (the order ingestion with `checkout_id`, or POST .../capture). The same
    order again returns the checkout as it is; another order, or a released or expired checkout, is 409."""
    checkout = await get(session, checkout_id, for_update=True)
    if checkout.status == "captured" and checkout.order_id == order.id:
        return checkout
    if checkout.status != "held":
        raise _settled_conflict(checkout)
    if order.member_id != checkout.member_id:
        raise _problem("the checkout belongs to another member", "checkout_member_mismatch", field, "another member's")
    if order.currency != checkout.currency:
        raise _problem(
            f"the checkout is in {checkout.currency}, the order in {order.currency}",
            "currency_mismatch",
            field,
            "currency",
        )
    taken = (await session.execute(select(Checkout.id).where(Checkout.order_id == order.id))).scalar_one_or_none()
    if taken is not None:
        raise Conflict(
            "this order already captured another checkout",
            code="order_has_checkout",
            details={"checkout_id": str(taken)},
        )
    await ledger.post_hold(
        session,
        checkout.hold_id,
        reason=f"Checkout {checkout.external_id} paid order {order.external_id}: {checkout.value} {checkout.currency}",
        idempotency_key=f"checkout:{checkout.id}:capture",
    )
    checkout.order_id = order.id
    await _settle(session, checkout, "captured")
    await outbox.enqueue_signal(session, contracts.checkout_settled_signal(checkout.id, "captured"))
    return checkout


async def release(session: AsyncSession, checkout_id: uuid.UUID) -> Checkout:
    """The shopper abandoned the checkout: the points are available again. Releasing a released or timed-out
    checkout returns it as it is; a captured one is 409."""
    checkout = await get(session, checkout_id, for_update=True)
    if checkout.status in ("released", "expired"):
        return checkout
    if checkout.status != "held":
        raise _settled_conflict(checkout)
    await ledger.void_hold(
        session,
        checkout.hold_id,
        reason=f"Checkout {checkout.external_id} abandoned",
        idempotency_key=f"checkout:{checkout.id}:release",
    )
    await _settle(session, checkout, "released")
    await outbox.enqueue_signal(session, contracts.checkout_settled_signal(checkout.id, "released"))
    return checkout


async def expire(session: AsyncSession, checkout_id: uuid.UUID) -> str:
    """The timer ran out (the CheckoutHold workflow's activity): release what is still held; a checkout
    captured or released meanwhile stays as it is. Returns the checkout's status."""
    checkout = await get(session, checkout_id, for_update=True)
    if checkout.status == "held":
        await ledger.void_hold(
            session,
            checkout.hold_id,
            reason=f"Checkout {checkout.external_id} timed out",
            idempotency_key=f"checkout:{checkout.id}:expire",
            expired=True,
        )
        await _settle(session, checkout, "expired")
    return checkout.status


def refund_share(points: int, refunded_total: Decimal, order_amount: Decimal) -> int:
    """The points owed back after refunds of `refunded_total` in all: the refunded share of the points,
    rounded down, and all of them once the whole order is refunded."""
    if refunded_total >= order_amount:
        return points
    return int((Decimal(points) * refunded_total / order_amount).to_integral_value(rounding=ROUND_FLOOR))


async def return_points(
    session: AsyncSession,
    order: Order,
    *,
    refunded_total: Decimal,
    refund_id: uuid.UUID,
    refund_external_id: str,
    refunded_at: datetime,
) -> int:
    """Give back the points a captured checkout paid for `order`, in proportion to the amount refunded so far
    (cumulatively: several partial refunds never return more than were used). They come back as a new lot
    expiring like freshly earned points. Returns the points this refund gave back."""
    checkout = (
        await session.execute(select(Checkout).where(Checkout.order_id == order.id).with_for_update())
    ).scalar_one_or_none()
    if checkout is None:
        return 0
    owed = refund_share(checkout.points, refunded_total, order.amount)
    give_back = owed - checkout.points_refunded
    if give_back <= 0:
        return 0
    await ledger.credit(
        session,
        member_id=checkout.member_id,
        points=give_back,
        kind=ledger.TxKind.REFUND,
        reason=f"Refund {refund_external_id} of order {order.external_id}: points paid at checkout returned",
        idempotency_key=f"checkout:{checkout.id}:refund:{refund_external_id}",
        reference=("refund", str(refund_id)),
        source=ledger.SystemAccount.REDEEMED,
        expires_at=add_months(refunded_at, get_settings().points.expiry_months),
    )
    checkout.points_refunded = owed
    await session.flush()
    return give_back


async def open_for_member(session: AsyncSession, member_id: uuid.UUID, *, limit: int = 20) -> list[Checkout]:
    """The member's checkouts still holding points, soonest to time out first (the 360 view)."""
    rows = await session.execute(
        select(Checkout)
        .where(Checkout.member_id == member_id, Checkout.status == "held")
        .order_by(Checkout.expires_at)
        .limit(limit)
    )
    return list(rows.scalars().all())
