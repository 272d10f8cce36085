"""Journey definitions (versioned, each with the canvas positions it was published with), the draft being edited,
the runs of them, and the staff tasks journeys create."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Journey(Base):
    """A journey kind: its current version and whether it starts for new triggers."""

    __tablename__ = "journeys"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class JourneyVersion(Base):
    """One immutable version of a definition; a run keeps the version it started with."""

    __tablename__ = "journey_versions"

    kind: Mapped[str] = mapped_column(ForeignKey("journeys.kind"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Where the canvas drew each step ({step id: {"x", "y"}}): for people only, the workflow never reads it.
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()


class JourneyDraft(Base):
    """The canvas's unpublished work on a journey kind, one per kind: it may be incomplete or invalid, and nothing
    runs it; publishing turns it into a version and drops it. The kind may not exist yet (a new journey)."""

    __tablename__ = "journey_drafts"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    layout: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))
    # The version the draft started from (None for a new journey), so the page can say it is behind.
    base_version: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = created_at_column()


class JourneyRun(Base):
    """Where each run is: written by the workflow's activities, read by the API and console."""

    __tablename__ = "journey_runs"
    __table_args__ = (
        Index("ix_journey_runs_member", "member_id", "started_at"),
        Index("ix_journey_runs_kind_step", "kind", "status", "current_step"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    # running, completed, exited (an exit event ended it), cancelled, failed
    status: Mapped[str] = mapped_column(String(20))
    current_step: Mapped[str] = mapped_column(String(64))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=text("'[]'"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffTask(Base):
    """A to-do for staff (call this member, send a note), created by a journey or a rule."""

    __tablename__ = "staff_tasks"
    __table_args__ = (Index("ix_staff_tasks_open", "status", "due_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    assignee_role: Mapped[str] = mapped_column(String(20))
    # A named person within that role (a ticket's assignee, a queue's lead), when the task is for one.
    assignee: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="open")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Unique where given: a retried step creates its task once.
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(100))
