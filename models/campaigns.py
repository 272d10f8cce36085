"""Campaigns: a segment enrolled into a journey, the member snapshot taken at start, and each member's fate."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column

CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled", "failed")
MEMBER_STATUSES = ("pending", "enrolled", "held_out", "skipped", "failed", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Campaign(Base):
    """What a marketer configured, and where its run is. Progress counts live in campaign_members."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_one_of("status", CAMPAIGN_STATUSES), name="status_known"),
        CheckConstraint("holdout_percent BETWEEN 0 AND 50", name="holdout_range"),
        CheckConstraint("send_cap IS NULL OR send_cap > 0", name="send_cap_positive"),
        CheckConstraint("attribution_days BETWEEN 1 AND 90", name="attribution_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("segments.id", ondelete="RESTRICT"), index=True)
    # The segment's filter as it was when the members were last snapshotted (the segment may change later).
    segment_definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    journey_kind: Mapped[str] = mapped_column(ForeignKey("journeys.kind"))
    # Pinned when the campaign is created: every member runs this version.
    journey_version: Mapped[int] = mapped_column(Integer)
    # Enrol no earlier than this (the workflow waits for it, so pause and cancel work while it waits).
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A recurring campaign: {"every": {"days", "hours", "minutes"}} or {"cron": "0 9 * * 1"} (UTC).
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    holdout_percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    # At most this many members enrolled (held-out members do not count).
    send_cap: Mapped[int | None] = mapped_column(Integer)
    attribution_days: Mapped[int] = mapped_column(Integer, default=7)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The last progress the workflow reported (the API's detail view counts live instead).
    counters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set with a cancel that also stops the journeys the campaign started.
    cancel_journeys: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    last_error: Mapped[str | None] = mapped_column(Text)
    snapshot_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CampaignMember(Base):
    """One member of a campaign's snapshot: held out or not (decided once, by a hash), and what happened."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        CheckConstraint(_one_of("status", MEMBER_STATUSES), name="status_known"),
        CheckConstraint("(status = 'held_out') = held_out", name="held_out_matches_status"),
        # Counting by status (progress) without touching the rows.
        Index("ix_campaign_members_status", "campaign_id", "status", "skip_reason"),
    )

    # The primary key (campaign_id, member_id) is also the paging index: pages walk member ids in order.
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"), primary_key=True)
    held_out: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    # no_consent, already_in_journey, member_missing, send_cap
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    # When the member entered the snapshot: the start of a held-out member's attribution window.
    added_at: Mapped[datetime] = created_at_column()
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
