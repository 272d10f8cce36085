"""Paid membership plans (what a brand sells), the memberships members buy, and each period an order paid for."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
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
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z][a-z0-9_]{1,63}$'", name="code_format"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("term_months BETWEEN 1 AND 60", name="term_in_range"),
        CheckConstraint("earn_multiplier >= 1 AND earn_multiplier <= 10", name="multiplier_in_range"),
        CheckConstraint("refund_on_cancel IN ('proportional', 'none')", name="refund_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh_cn: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # The shop's product that buys one term: an order line with this SKU starts or renews a membership.
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    term_months: Mapped[int] = mapped_column(Integer)
    # Multiplies the tier's earn rate on orders while a membership is active.
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("1"))
    # A coupon template's code, granted at the start and every month of the term; NULL: no coupon.
    monthly_coupon: Mapped[str | None] = mapped_column(String(64))
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_on_cancel: Mapped[str] = mapped_column(String(16), default="none")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class Membership(Base):
    """One member's plan, from the order that bought it to its end; renewals move `ends_at`."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'ended', 'cancelled')", name="status_known"),
        CheckConstraint("ends_at > started_at", name="ends_after_start"),
        # One active membership of a plan per member: a second order of it renews this one.
        Index(
            "uq_memberships_active_plan",
            "member_id",
            "plan_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_memberships_member", "member_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    # The membership this one continues (bought within the renewal window after that one ended).
    renewed_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("memberships.id"))
    # On cancellation: the amount the shop should refund (0 when the plan refunds nothing).
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = created_at_column()


class MembershipPeriod(Base):
    """A term one order paid for: the start, or a renewal. The order id is unique, so an order counts once."""

    __tablename__ = "membership_periods"
    __table_args__ = (CheckConstraint("kind IN ('start', 'renewal')", name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    membership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memberships.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = created_at_column()
