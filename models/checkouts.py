"""Points as a means of payment at the shop's checkout: the programme's rate and limits, and each checkout's
hold of points until the order completes (captured), the shopper abandons it (released) or it times out."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class CheckoutSettings(Base):
    """One row (id 1): `points_per_unit` points are worth `unit_value` of `currency` (100 points = 1.00 CNY);
    an order may be paid with points up to `max_percent` of its amount, and a checkout uses at least
    `min_points`; a hold lasts `hold_minutes` unless the checkout asks for less or more."""

    __tablename__ = "checkout_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("points_per_unit > 0", name="rate_positive"),
        CheckConstraint("unit_value > 0", name="unit_value_positive"),
        CheckConstraint("max_percent >= 1 AND max_percent <= 100", name="cap_in_range"),
        CheckConstraint("min_points >= 0", name="minimum_not_negative"),
        CheckConstraint("hold_minutes >= 1 AND hold_minutes <= 1440", name="hold_in_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3))
    points_per_unit: Mapped[int] = mapped_column(Integer)
    unit_value: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_percent: Mapped[int] = mapped_column(Integer)
    min_points: Mapped[int] = mapped_column(BigInteger)
    hold_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = created_at_column()
    updated_by: Mapped[str | None] = mapped_column(String(100))


class Checkout(Base):
    """One checkout paying with points: its hold in the ledger, the order that captured it, and the points
    refunds of that order returned so far (never more than `points` in total)."""

    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("status IN ('held', 'captured', 'released', 'expired')", name="status_known"),
        CheckConstraint("points_refunded >= 0 AND points_refunded <= points", name="refund_within_points"),
        Index("ix_checkouts_member_open", "member_id", postgresql_where=text("status = 'held'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # The shop's checkout (cart, payment session) id: the same checkout never holds twice.
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    order_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    points: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(10))
    hold_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    points_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
