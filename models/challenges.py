"""Challenges (a definition marketers write), each member's run of one (its progress, kept here so the 360
view and the portal read it without asking Temporal) and the badges completions award."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Challenge(Base):
    """A challenge: titles, how members join (`enrolment`, copied from the definition so sign-ups and the
    monthly scan read only their own) and the validated definition (window, goals, reward, badge)."""

    __tablename__ = "challenges"
    __table_args__ = (
        CheckConstraint("enrolment IN ('signup', 'window_start', 'opt_in')", name="enrolment_known"),
        Index("ix_challenges_enrolment_active", "enrolment", "active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title_en: Mapped[str] = mapped_column(String(200))
    title_zh_cn: Mapped[str] = mapped_column(String(200))
    enrolment: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class MemberChallenge(Base):
    """One member in one window of a challenge, run by the `challenge-{challenge}-{member}` workflow. Progress
    is recomputed from the member's orders and events in the transaction of each event; the status leaves
    `active` once, under the row's lock, so a completion pays once."""

    __tablename__ = "member_challenges"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'completed', 'failed')", name="status_known"),
        UniqueConstraint("challenge_id", "member_id", "window_start", name="uq_member_challenges_window"),
        Index("ix_member_challenges_member_status", "member_id", "status"),
        Index("ix_member_challenges_challenge_status", "challenge_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenges.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="active")
    # One entry per goal, in the definition's order: {"kind", "target", "value"} (strings for money).
    progress: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    enrolled_at: Mapped[datetime] = created_at_column()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reward_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class MemberBadge(Base):
    """A badge a member earned: once per badge code, with the name and icon it had when earned."""

    __tablename__ = "member_badges"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh_cn: Mapped[str] = mapped_column(String(100))
    icon: Mapped[str] = mapped_column(String(16))
    member_challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member_challenges.id"))
    earned_at: Mapped[datetime] = created_at_column()
