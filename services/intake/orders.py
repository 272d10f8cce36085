"""Order ingestion: one transaction stores the order, updates spend, earns points and records the event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from core.ids import uuid7
from core.settings import get_settings
from core.timeutil import add_months, utc_past
from models import LedgerTransaction, Member, MemberEvent, Order, OrderRefund
from services import challenges, journeys, members, plans, referrals, rules
from services.intake import programme_events, tier_review
from services.loyalty import checkouts, ledger, tier_policy, tiers
from services.loyalty.money import Money

PlacedAt = Annotated[datetime, AfterValidator(utc_past)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    name: Annotated[str, StringConstraints(max_length=300)] | None = None
    quantity: int = Field(ge=1, le=100_000)
    unit_price: Money
    category: Annotated[str, StringConstraints(max_length=100)] | None = None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,64}$")] = "default"
    member_id: uuid.UUID
    amount: Money
    currency: Currency
    status: Literal["completed"] = "completed"
    placed_at: PlacedAt
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    # The checkout whose held points paid part of this order: captured with the order, in its transaction.
    checkout_id: uuid.UUID | None = None


def points_for(amount: Decimal, multiplier: Decimal = Decimal("1")) -> int:
    """1 point per whole currency unit, times the member's tier multiplier, rounded down."""
    return int((amount * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def lot_expiry(earned_at: datetime) -> datetime:
    return add_months(earned_at, get_settings().points.expiry_months)


async def ingest(session: AsyncSession, data: OrderCreate, *, task_queue: str) -> Order:
    """Store a completed order and, in the same transaction: spend and count, points at the member's
    current tier multiplier, a tier upgrade when the new lifetime spend reaches one, and the events.
    Past orders in bulk go through the history import instead (services.imports), which messages no one."""
    # Lock the member row first: concurrent orders of one member serialize here, and spend stays exact.
    member = await members.get_active(session, data.member_id, for_update=True)
    ladder, policy = await tier_policy.ladder_and_policy(session)
    current = tiers.find(ladder, member.tier) or tiers.tier_for(ladder, member.lifetime_spend)
    order_id = uuid7()
    now = datetime.now(UTC)
    # A paid plan's multiplier applies on top of the tier's, from the order after the one that bought it.
    held = await plans.for_order(session, member.id, {item.sku for item in data.items}, now)
    plan_multiplier = held.multiplier
    multiplier = current.earn_multiplier * plan_multiplier
    points = points_for(data.amount, multiplier)
    # RETURNING the whole row: the answer is built from it, with no SELECT of the order at the end.
    order = (
        await session.execute(
            insert(Order)
            .values(
                id=order_id,
                source=data.source,
                external_id=data.external_id,
                member_id=member.id,
                amount=data.amount,
                currency=data.currency,
                status=data.status,
                items=[item.model_dump(mode="json") for item in data.items],
                points_earned=points,
                placed_at=data.placed_at,
            )
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(Order)
        )
    ).scalar_one_or_none()
    if order is None:
        existing = (
            await session.execute(
                select(Order.id).where(Order.source == data.source, Order.external_id == data.external_id)
            )
        ).scalar_one()
        raise Conflict(
            f"order {data.external_id!r} from source {data.source!r} was already ingested",
            code="order_exists",
            details={"order_id": str(existing)},
        )
    if data.checkout_id is not None:
        await checkouts.capture(session, data.checkout_id, order, field="body.checkout_id")
    first_purchase = member.order_count == 0
    member.lifetime_spend += data.amount
    member.order_count += 1
    if member.last_purchase_at is None or data.placed_at > member.last_purchase_at:
        member.last_purchase_at = data.placed_at
    if points > 0:
        rate = "" if current.earn_multiplier == 1 else f" at {current.name} ×{current.earn_multiplier}"
        if plan_multiplier != 1:
            rate += f" with the paid plan ×{plan_multiplier}"
        await ledger.credit(
            session,
            member_id=member.id,
            points=points,
            kind=ledger.TxKind.EARN,
            reason=f"Order {data.external_id} completed: {data.amount} {data.currency}{rate}",
            idempotency_key=f"order:{order_id}:earn",
            reference=("order", str(order_id)),
            expires_at=lot_expiry(data.placed_at),
        )
    _record(
        session,
        member.id,
        "order_completed",
        data.placed_at,
        f"order:{order_id}:completed",
        {
            "order_id": str(order_id),
            "amount": str(data.amount),
            "currency": data.currency,
            "first_purchase": first_purchase,
            "points": points,
        },
    )
    qualified = await tier_review.qualified_at_order(session, ladder, policy, member, data.placed_at)
    reached = qualified.tier
    upgraded = reached.rank > current.rank
    if upgraded:  # upgrades happen here, on the ladder's basis; falls only at a review (services.intake.tier_review)
        await tier_review.record_upgrade(
            session, member, current, qualified, order_id=order_id, order_ref=data.external_id, at=data.placed_at
        )
        _record(
            session,
            member.id,
            "tier_changed",
            data.placed_at,
            f"order:{order_id}:tier",
            {"from": current.code, "to": reached.code, "direction": "up", "order_id": str(order_id)},
        )
    await session.flush()
    lines = [plans.PlanLine(i.sku, i.quantity, i.unit_price * i.quantity) for i in data.items]
    bought = await plans.on_order(session, member.id, order_id, lines, held.buying, at=now, task_queue=task_queue)
    await challenges.on_event(session, member, "order_completed")
    # Journeys: a purchase ends the welcome wait; the first one starts the follow-up; an upgrade congratulates.
    events = ["order_completed"]
    if first_purchase:
        events.append("first_order_completed")
    if upgraded:
        events.append("tier_upgraded")
    await journeys.on_event(session, member, *events, task_queue=task_queue)
    if first_purchase:  # a referred member's first order starts the referral's return window
        await referrals.on_order_completed(session, member.id, order_id, task_queue=task_queue)
    tier_change = (current.code, reached.code) if upgraded else None
    await _run_rules(session, member, order_id, data, first_purchase, tier_change, task_queue)
    if bought:  # after the order's own events: plan_started / plan_renewed
        await programme_events.plans_bought(session, member, bought, order_id, at=now, task_queue=task_queue)
    await session.flush()
    return order


async def _run_rules(
    session: AsyncSession,
    member: Member,
    order_id: uuid.UUID,
    data: OrderCreate,
    first_purchase: bool,
    tier_change: tuple[str, str] | None,
    task_queue: str,
) -> None:
    """The order's rules, in this transaction (the member row is locked): order_completed, then tier_changed."""
    facts = {
        "event.amount": data.amount,
        "event.currency": data.currency,
        "event.first_purchase": first_purchase,
        "event.item_count": sum(item.quantity for item in data.items),
    }
    await rules.evaluate_event(
        session,
        rules.RuleEvent("order_completed", member, f"order:{order_id}", data.placed_at, facts, member_locked=True),
        task_queue=task_queue,
    )
    if tier_change is not None:
        old, new = tier_change
        change = {"event.old_tier": old, "event.new_tier": new, "event.direction": "up"}
        await rules.evaluate_event(
            session,
            rules.RuleEvent(
                "tier_changed", member, f"order:{order_id}:tier", data.placed_at, change, member_locked=True
            ),
            task_queue=task_queue,
        )


def _record(
    session: AsyncSession, member_id: uuid.UUID, kind: str, at: datetime, key: str, properties: dict[str, Any]
) -> None:
    session.add(MemberEvent(member_id=member_id, type=kind, occurred_at=at, properties=properties, idempotency_key=key))


async def get(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> Order:
    stmt = select(Order).where(Order.id == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    order = (await session.execute(stmt)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist", code="order_not_found")
    return order


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The shop's refund id: retrying the same refund is safe.
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    amount: Money
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    refunded_at: PlacedAt | None = None


@dataclass(frozen=True)
class RefundOutcome:
    refund: OrderRefund
    order: Order
    replayed: bool


async def refund(session: AsyncSession, order_id: uuid.UUID, data: RefundCreate) -> RefundOutcome:
    """Refund part or all of an order. The points it earned are clawed back in proportion to the refunded
    share of the order (cumulatively, so partial refunds never claw back more than was earned); what the
    member already spent becomes debt that their next earnings repay."""
    order = await get(session, order_id, for_update=True)
    existing = (
        await session.execute(
            select(OrderRefund).where(OrderRefund.order_id == order_id, OrderRefund.external_id == data.external_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.amount != data.amount:
            raise Conflict(
                f"refund {data.external_id!r} of this order was recorded with another amount",
                code="refund_conflict",
                details={"refund_id": str(existing.id)},
            )
        return RefundOutcome(refund=existing, order=order, replayed=True)
    if data.amount <= 0:
        raise InvalidInput(
            "a refund must be above zero",
            code="validation_error",
            details=[{"field": "body.amount", "message": "must be above zero"}],
        )
    refundable = order.amount - order.refunded_amount
    if data.amount > refundable:
        raise InvalidInput(
            f"the order has {refundable} {order.currency} left to refund",
            code="refund_exceeds_order",
            details=[{"field": "body.amount", "message": f"at most {refundable}"}],
        )
    member = await members.get(session, order.member_id, for_update=True)
    refunded_total = order.refunded_amount + data.amount
    owed_total = (
        order.points_earned
        if refunded_total == order.amount
        else int((Decimal(order.points_earned) * refunded_total / order.amount).to_integral_value(ROUND_FLOOR))
    )
    to_claw = owed_total - order.points_clawed_back
    refund_id = uuid7()
    refunded_at = data.refunded_at or datetime.now(UTC)
    # Before the clawback: the checkout's row lock comes before the ledger's, as in a capture.
    returned = await checkouts.return_points(
        session,
        order,
        refunded_total=refunded_total,
        refund_id=refund_id,
        refund_external_id=data.external_id,
        refunded_at=refunded_at,
    )
    taken, shortfall = 0, 0
    if to_claw > 0:
        earn_tx = (
            await session.execute(
                select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == f"order:{order_id}:earn")
            )
        ).scalar_one_or_none()
        posting = await ledger.clawback(
            session,
            member_id=member.id,
            points=to_claw,
            reason=f"Refund {data.external_id} of order {order.external_id}: {data.amount} {order.currency}",
            idempotency_key=f"order:{order_id}:refund:{data.external_id}",
            reference=("refund", str(refund_id)),
            prefer_lot_of_transaction=earn_tx,
        )
        taken, shortfall = posting.amount, posting.shortfall
    row = OrderRefund(
        id=refund_id,
        order_id=order_id,
        external_id=data.external_id,
        amount=data.amount,
        reason=data.reason,
        points_clawed_back=taken,
        points_shortfall=shortfall,
        points_returned=returned,
        refunded_at=refunded_at,
    )
    session.add(row)
    order.refunded_amount = refunded_total
    order.points_clawed_back = owed_total
    order.status = "refunded" if refunded_total == order.amount else "partially_refunded"
    member.lifetime_spend = max(Decimal("0"), member.lifetime_spend - data.amount)
    _record(
        session,
        member.id,
        "order_refunded",
        refunded_at,
        f"refund:{refund_id}",
        {
            "order_id": str(order_id),
            "refund_id": str(refund_id),
            "amount": str(data.amount),
            "points_clawed_back": taken,
            "points_shortfall": shortfall,
            "points_returned": returned,
        },
    )
    await session.flush()
    await referrals.on_order_refunded(session, order_id, refund_id)  # within the return window: no rewards
    return RefundOutcome(refund=row, order=order, replayed=False)
