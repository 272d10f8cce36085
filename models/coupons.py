"""Coupon templates (what a coupon is worth) and the coupons issued from them to members."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Uuid, true
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class CouponTemplate(Base):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9_]{2,64}$'", name="code_format"),
        CheckConstraint("kind IN ('percent', 'amount')", name="kind_known"),
        CheckConstraint("value > 0 AND (kind <> 'percent' OR value <= 100)", name="value_in_range"),
        CheckConstraint("min_spend >= 0", name="min_spend_not_negative"),
        CheckConstraint("validity_days BETWEEN 1 AND 3650", name="validity_days_in_range"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit >= 1", name="per_member_limit_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # A slug marketers and journey definitions refer to, e.g. "new_member_10".
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    # Percent off (0 < v <= 100) or an amount off in the order's currency.
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    min_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    validity_days: Mapped[int] = mapped_column(Integer)
    # Coupons of this template one member may ever be issued; NULL: unlimited.
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("status IN ('issued', 'redeemed', 'expired')", name="status_known"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        CheckConstraint("(status = 'redeemed') = (redeemed_at IS NOT NULL)", name="redeemed_at_matches_status"),
        Index("ix_coupons_member_template", "member_id", "template_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # The code the member shows at the till: "MF-XXXX-XXXX-XXXX", random and unguessable.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coupon_templates.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    # Stored status; an `issued` coupon past `expires_at` reads as expired (services.coupons.effective_status).
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redeemed_order_ref: Mapped[str | None] = mapped_column(String(128))
    # Unique where given, so a retried issuance (e.g. "journey:welcome:<member>") finds the first coupon.
    issue_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = created_at_column()
