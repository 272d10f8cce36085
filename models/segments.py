"""Saved member segments (validated JSON filters) and the member indexes their evaluation relies on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column
from models.members import Member


class Segment(Base):
    """A named filter over members (services.segments.SegmentFilter, stored as its JSON)."""

    __tablename__ = "segments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


# Indexes on `members` for segment filters, declared here so the segments migration owns them. Only columns
# that an order does not change are indexed: order ingestion updates lifetime_spend, order_count and
# last_purchase_at on every order, and an index on any of them would make each of those updates non-HOT
# (every index rewritten). Filters on those columns scan the table instead; bench/segments.py shows that
# stays well under the preview target at 100k members.
Index("ix_members_tags", Member.tags, postgresql_using="gin")
Index("ix_members_attributes", Member.attributes, postgresql_using="gin")
Index("ix_members_created_at", Member.created_at)
