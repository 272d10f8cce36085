"""Shapes of points at checkout: the programme's rate, a quote, a checkout."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CheckoutRateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    enabled: bool
    currency: str
    points_per_unit: int = Field(description="points worth `unit_value`")
    unit_value: Decimal
    max_percent: int = Field(description="the share of an order points may pay, in percent")
    min_points: int
    hold_minutes: int
    updated_at: datetime
    updated_by: str | None


class QuoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: uuid.UUID
    order_amount: Decimal
    currency: str
    available: int = Field(description="the member's available points")
    cap_points: int = Field(description="the most points the cap allows for this order")
    min_points: int
    max_points: int = Field(
        description="what this order may use: min(available, cap) in whole units, 0 below the minimum"
    )
    max_value: Decimal = Field(description="what `max_points` are worth")
    points_per_unit: int
    unit_value: Decimal
    reason: Literal["ok", "disabled", "below_minimum"]


class CheckoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    member_id: uuid.UUID
    order_amount: Decimal
    currency: str
    points: int
    value: Decimal
    status: Literal["held", "captured", "released", "expired"]
    order_id: uuid.UUID | None
    points_refunded: int
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None
