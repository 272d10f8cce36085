"""Transactional outbox of Temporal commands (workflow starts and signals).

A row is written in the same transaction as the change that calls for it, so a committed change
always reaches Temporal, even if Temporal was down at that moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column


class TemporalOutbox(Base):
    __tablename__ = "temporal_outbox"
    __table_args__ = (
        Index("ix_temporal_outbox_pending", "id", postgresql_where=text("dispatched_at IS NULL")),
        # A signal waits for an older undelivered start of its workflow; this finds one without scanning the backlog.
        Index(
            "ix_temporal_outbox_pending_workflow",
            "workflow_id",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # "start" or "signal_with_start" or "signal"
    action: Mapped[str] = mapped_column(String(20))
    workflow_type: Mapped[str | None] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(255))
    task_queue: Mapped[str | None] = mapped_column(String(100))
    signal_name: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    search_attributes: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A failed row waits until then (backoff per row), so rows that keep failing never hold the others back.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when a row kept failing for a reason of its own: the relay leaves it until ops retry it.
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
