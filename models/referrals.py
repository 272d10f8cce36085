"""Referrals: the programme's one row of settings, each member's referral code, and one row per referee linked
to the member who invited them. No address is kept in clear: a referee's email and phone are keyed hashes,
unique across all referrals, so the same address can be a referee only once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column


class ReferralProgramme(Base):
    """The one row (id 1) marketers edit in the console: the return window, the monthly limit per referrer,
    and each side's reward: points, or a coupon from a template."""

    __tablename__ = "referral_programme"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("return_window_days BETWEEN 0 AND 365", name="window_in_range"),
        CheckConstraint("monthly_limit BETWEEN 1 AND 10000", name="limit_in_range"),
        CheckConstraint("referrer_reward IN ('points', 'coupon')", name="referrer_reward_known"),
        CheckConstraint("referee_reward IN ('points', 'coupon')", name="referee_reward_known"),
        CheckConstraint("referrer_points >= 0 AND referee_points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    return_window_days: Mapped[int] = mapped_column(Integer, default=14)
    monthly_limit: Mapped[int] = mapped_column(Integer, default=10)
    referrer_reward: Mapped[str] = mapped_column(String(8), default="points")
    referrer_points: Mapped[int] = mapped_column(Integer, default=500)
    referrer_coupon: Mapped[str | None] = mapped_column(String(64))
    referee_reward: Mapped[str] = mapped_column(String(8), default="points")
    referee_points: Mapped[int] = mapped_column(Integer, default=200)
    referee_coupon: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReferralCode(Base):
    """A member's code, made the first time it is shown (or asked for)."""

    __tablename__ = "referral_codes"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = created_at_column()


class Referral(Base):
    """A referee linked to their referrer at sign-up: `linked`, then `qualifying` once their first order
    completed (the Referral workflow waits the return window), then `rewarded` or `cancelled`."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint("status IN ('linked', 'qualifying', 'rewarded', 'cancelled')", name="status_known"),
        CheckConstraint("referrer_id <> referee_id", name="not_self"),
        Index("ix_referrals_referrer_created", "referrer_id", "created_at"),
        Index("ix_referrals_order", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    referee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="linked")
    # HMAC-SHA256 of the referee's normalised email and phone (services.referrals.codes.contact_digest).
    email_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    phone_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"))
    qualified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    referrer_points: Mapped[int] = mapped_column(Integer, default=0)
    referee_points: Mapped[int] = mapped_column(Integer, default=0)
    referrer_coupon_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("coupons.id"))
    referee_coupon_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("coupons.id"))
    created_at: Mapped[datetime] = created_at_column()
