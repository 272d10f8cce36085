"""Responses for events, tiers, rewards, redemptions and refunds."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from api.schemas.orders import OrderOut
from services.loyalty.tier_policy import TierPolicyIn


class EventOut(BaseModel):
    event_id: uuid.UUID
    duplicate: bool
    points_awarded: int
    award_status: str
    ledger_transaction_id: int | None


class TierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    rank: int
    min_spend_exclusive: Decimal
    earn_multiplier: Decimal
    benefits: list[str]


class TierLadderOut(BaseModel):
    tiers: list[TierOut]


class TierPolicyOut(BaseModel):
    """The ladder's qualification policy (services.loyalty.tier_policy; docs/loyalty.md "Tiers that requalify")."""

    model_config = ConfigDict(from_attributes=True)

    basis: str
    window_months: int
    review_rule: str
    review_month: int
    review_day: int
    max_drop_per_review: int
    grace_days: int
    at_risk_days: int
    updated_by: str | None
    updated_at: datetime


class TierForecastOut(BaseModel):
    tier: str
    rise: int
    keep: int
    fall: int


class TierDryRunOut(BaseModel):
    """What the proposed policy would do at each member's next review, on what is recorded today."""

    policy: TierPolicyIn
    rise: int
    keep: int
    fall: int
    by_tier: list[TierForecastOut]


class TierChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    old_tier: str
    new_tier: str
    direction: str
    reason: str
    reference_type: str
    reference_id: str
    review_on: date | None
    occurred_at: datetime


class RewardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    points_cost: int
    stock: int | None
    active: bool
    approval_threshold: int | None
    needs_approval: bool = False
    created_at: datetime


class RedemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    reward_id: uuid.UUID
    points: int
    status: str
    hold_id: uuid.UUID | None
    ledger_transaction_id: int | None
    created_at: datetime
    completed_at: datetime | None


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    external_id: str
    amount: Decimal
    reason: str | None
    points_clawed_back: int
    points_shortfall: int
    # Points the order was paid with at checkout that this refund gave back (its share, rounded down).
    points_returned: int
    refunded_at: datetime


class RefundResultOut(BaseModel):
    refund: RefundOut
    order: OrderOut
