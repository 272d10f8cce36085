"""Order ingestion: one transaction stores the order, updates spend, earns points and records the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.ids import uuid7
from models import MemberEvent, Order
from services import journeys, ledger, members

MAX_AMOUNT = Decimal("10000000")  # one order above ten million is a bug upstream, not a sale


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('money must be a decimal string such as "129.90", not a JSON number')
    return value


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if value < 0:
        raise ValueError("amount must not be negative")
    if value > MAX_AMOUNT:
        raise ValueError(f"amount must not exceed {MAX_AMOUNT}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("amount has at most two decimal places")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps need a time zone, e.g. '2026-11-23T10:00:00Z'")
    if value > datetime.now(UTC) + timedelta(minutes=5):
        raise ValueError("placed_at is in the future")
    return value.astimezone(UTC)


Money = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_money)]
PlacedAt = Annotated[datetime, AfterValidator(_aware)]
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


def points_for(amount: Decimal) -> int:
    """1 point per whole currency unit (tier multipliers arrive with the tiers slice)."""
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


async def ingest(session: AsyncSession, data: OrderCreate) -> Order:
    # Lock the member row first: concurrent orders of one member serialize here, and spend stays exact.
    member = await members.get(session, data.member_id, for_update=True)
    order_id = uuid7()
    points = points_for(data.amount)
    inserted = (
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
            .returning(Order.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
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
    first_purchase = member.order_count == 0
    member.lifetime_spend += data.amount
    member.order_count += 1
    if member.last_purchase_at is None or data.placed_at > member.last_purchase_at:
        member.last_purchase_at = data.placed_at
    if points > 0:
        await ledger.credit(
            session,
            member_id=member.id,
            points=points,
            kind=ledger.TxKind.EARN,
            reason=f"Order {data.external_id} completed: {data.amount} {data.currency}",
            idempotency_key=f"order:{order_id}:earn",
            reference=("order", str(order_id)),
        )
    session.add(
        MemberEvent(
            member_id=member.id,
            type="order_completed",
            occurred_at=data.placed_at,
            properties={
                "order_id": str(order_id),
                "amount": str(data.amount),
                "currency": data.currency,
                "first_purchase": first_purchase,
            },
            idempotency_key=f"order:{order_id}:completed",
        )
    )
    # A purchase ends the welcome journey's wait for a first order.
    await journeys.enqueue_event(session, kind="welcome", member_id=member.id, event_type="order_completed")
    await session.flush()
    return await get(session, order_id)


async def get(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = (await session.execute(select(Order).where(Order.id == order_id))).scalar_one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist", code="order_not_found")
    return order
