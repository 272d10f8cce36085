"""The tier ladder: thresholds on lifetime spend, earn multipliers and benefits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Integer, Numeric, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

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
