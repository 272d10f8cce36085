"""Order responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    source: str
    member_id: uuid.UUID
    amount: Decimal
    currency: str
    status: str
    items: list[dict[str, Any]]
    points_earned: int
    refunded_amount: Decimal
    points_clawed_back: int
    placed_at: datetime
    created_at: datetime
