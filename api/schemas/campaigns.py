"""Campaign requests and responses: definition, progress, members, results."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from api.pagination import Page
from services.campaigns import CampaignSpec


class CampaignCreate(CampaignSpec):
    # Start at once (a start_at or recurrence still decides when members are enrolled).
    start: bool = False


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Also cancel the journeys the campaign already started.
    cancel_journeys: bool = False


class NoBody(BaseModel):
    """Actions without a body."""


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    segment_id: uuid.UUID
    segment_definition: dict[str, Any]
    journey_kind: str
    journey_version: int
    start_at: datetime | None
    recurrence: dict[str, Any] | None
    holdout_percent: int
    send_cap: int | None
    attribution_days: int
    status: str
    runs: int
    cancel_journeys: bool
    last_error: str | None
    snapshot_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str
    created_at: datetime
    # The progress last recorded by the workflow (the detail view counts live).
    counters: dict[str, Any]


class ProgressOut(BaseModel):
    total: int
    pending: int
    enrolled: int
    held_out: int
    skipped: dict[str, int]
    failed: int
    cancelled: int
    # Members settled (enrolled, skipped or failed) per second since the campaign started.
    rate: float | None


class CampaignDetailOut(CampaignOut):
    progress: ProgressOut
    workflow_id: str
    temporal_url: str


class CampaignPage(Page[CampaignOut]):
    """Campaigns, newest first."""


class CampaignMemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: uuid.UUID
    held_out: bool
    status: str
    skip_reason: str | None
    added_at: datetime
    enrolled_at: datetime | None
    workflow_id: str | None
    error: str | None


class CampaignMemberPage(Page[CampaignMemberOut]):
    """A campaign snapshot's members, by member id."""


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    members: int
    conversions: int
    revenue: Decimal
    conversion_rate: float | None


class ResultsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    enrolled: int
    held_out: int
    # Messages the campaign's journeys recorded, by status (sent, suppressed, failed …).
    messages: dict[str, int]
    treatment: GroupOut
    holdout: GroupOut
    uplift: float | None
    relative_uplift: float | None
    attribution_days: int
