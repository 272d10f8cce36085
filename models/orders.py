"""Orders as the shop reports them; the source of spend and earned points."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Numeric, String, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_orders_source_external_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        Index("ix_orders_member_placed", "member_id", "placed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    source: Mapped[str] = mapped_column(String(64), default="default")
    external_id: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    points_clawed_back: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class OrderRefund(Base):
    """One refund of an order, full or partial, and the points it clawed back."""

    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("order_id", "external_id", name="uq_order_refunds_order_external"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[str | None] = mapped_column(String(500))
    points_clawed_back: Mapped[int] = mapped_column(BigInteger)
    # Points the member had already spent: recorded as debt, repaid from future earnings.
    points_shortfall: Mapped[int] = mapped_column(BigInteger)
    # Points the order was paid with (a checkout's) that this refund gave back, in proportion to its amount.
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
