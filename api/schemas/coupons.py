"""Coupon template and coupon responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from services.rewards.coupons import CouponKind, CouponStatus, CouponView, Redeemed


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: CouponKind
    value: Decimal
    min_spend: Decimal
    validity_days: int
    per_member_limit: int | None
    active: bool
    created_at: datetime


class CouponOut(BaseModel):
    id: uuid.UUID
    code: str
    member_id: uuid.UUID
    template_id: uuid.UUID
    template_code: str
    kind: CouponKind
    value: Decimal
    min_spend: Decimal
    # Effective: an issued coupon past its expiry reads as expired.
    status: CouponStatus
    issued_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    redeemed_order_ref: str | None
    issue_key: str | None

    @classmethod
    def of(cls, view: CouponView) -> CouponOut:
        c, t = view.coupon, view.template
        return cls(
            id=c.id,
            code=c.code,
            member_id=c.member_id,
            template_id=t.id,
            template_code=t.code,
            kind=CouponKind(t.kind),
            value=t.value,
            min_spend=t.min_spend,
            status=view.status,
            issued_at=c.issued_at,
            expires_at=c.expires_at,
            redeemed_at=c.redeemed_at,
            redeemed_order_ref=c.redeemed_order_ref,
            issue_key=c.issue_key,
        )


class RedemptionOut(BaseModel):
    coupon: CouponOut
    # Off the order amount, capped at it; null when the request gave no order amount.
    discount: Decimal | None

    @classmethod
    def of(cls, redeemed: Redeemed) -> RedemptionOut:
        return cls(coupon=CouponOut.of(redeemed.coupon), discount=redeemed.discount)
