"""Segment, preview and RFM summary requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    definition: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PreviewRequest(BaseModel):
    """Either an unsaved `definition` or a saved segment's `segment_id`."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | None = Field(default=None, description="A segment filter (docs/segments.md)")
    segment_id: uuid.UUID | None = None
    sample: int = Field(default=20, ge=0, le=100, description="How many matching members to list (newest first)")

    @model_validator(mode="after")
    def _one_source(self) -> PreviewRequest:
        if (self.definition is None) == (self.segment_id is None):
            raise ValueError("give either definition or segment_id")
        return self


class RfmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    recency: int
    frequency: int
    monetary: int
    segment: str


class PreviewMemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    tier: str
    lifetime_spend: Decimal
    order_count: int
    last_purchase_at: datetime | None
    rfm: RfmOut | None


class PreviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    count: int
    sample: list[PreviewMemberOut]


class RfmGroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segment: str
    members: int
    member_share: Decimal = Field(description="Share of all members, 0-1")
    revenue: Decimal = Field(description="The group's lifetime spend")
    revenue_share: Decimal = Field(description="Share of all members' lifetime spend, 0-1")
