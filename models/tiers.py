"""The tier ladder (thresholds, earn multipliers and benefits), its qualification policy, and the history of
every member's tier changes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Tier(Base):
    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("min_spend_exclusive >= 0", name="threshold_not_negative"),
        CheckConstraint("earn_multiplier > 0", name="multiplier_positive"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    # A member is in this tier when lifetime spend is strictly above this amount (the base tier: 0).
    min_spend_exclusive: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    benefits: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = created_at_column()


class TierPolicy(Base):
    """How the ladder qualifies members: one row (id 1). Changing it re-evaluates no one until the next review
    (services.loyalty.tier_policy)."""

    __tablename__ = "tier_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("basis IN ('lifetime_spend', 'rolling_12m_spend', 'points_earned_window')", name="basis_known"),
        CheckConstraint("review_rule IN ('yearly', 'anniversary')", name="review_rule_known"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    basis: Mapped[str] = mapped_column(String(32), default="lifetime_spend")
    window_months: Mapped[int] = mapped_column(Integer, default=12)
    review_rule: Mapped[str] = mapped_column(String(16), default="yearly")
    review_month: Mapped[int] = mapped_column(Integer, default=1)
    review_day: Mapped[int] = mapped_column(Integer, default=1)
    max_drop_per_review: Mapped[int] = mapped_column(Integer, default=1)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    at_risk_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = created_at_column()


class TierChange(Base):
    """One change of a member's tier: an upgrade at an order, or a review's rise or fall, with its reason.
    The idempotency key (`order:{id}:tier`, `tier_review:{member}:{review_on}`) makes a retry record it once."""

    __tablename__ = "tier_changes"
    __table_args__ = (
        CheckConstraint("direction IN ('up', 'down')", name="direction_known"),
        Index("ix_tier_changes_member_time", "member_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    old_tier: Mapped[str] = mapped_column(String(32))
    new_tier: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(String(500))
    reference_type: Mapped[str] = mapped_column(String(20))  # order, review
    reference_id: Mapped[str] = mapped_column(String(64))  # the order id, or the review date
    review_on: Mapped[date | None] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
