"""IF/THEN rules (versioned definitions) and their firings, one row per rule, member and event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Rule(Base):
    """A rule: its current version and whether it is live. Evaluation reads the current version."""

    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_trigger_enabled", "trigger", "enabled", "priority"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Copied from the current version, so an event reads only the rules of its own trigger.
    trigger: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    current_version: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class RuleVersion(Base):
    """One immutable version of a rule; a firing records the version that fired."""

    __tablename__ = "rule_versions"

    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()


class RuleFiring(Base):
    """A rule fired for a member on an event. Two unique keys make it happen once: (rule, version, event)
    against redelivery, and (rule, member, limit_key) for the per-member limit (`once`, `d:2026-11-24`, …),
    so concurrent evaluations of the same event, or of two events on the same day, cannot both fire."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", "event_key", name="uq_rule_firings_event"),
        UniqueConstraint("rule_id", "member_id", "limit_key", name="uq_rule_firings_limit"),
        Index("ix_rule_firings_member", "member_id", "fired_at"),
        Index("ix_rule_firings_rule", "rule_id", "fired_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id"))
    version: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(200))
    limit_key: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    trigger: Mapped[str] = mapped_column(String(32))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What each action did: [{"action": "grant_points", "points": 10, "transaction_id": 7, ...}, ...]
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=text("'[]'"))
