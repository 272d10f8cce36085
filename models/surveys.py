"""Surveys: the definitions marketers write (NPS, CSAT or custom questions), each send of one to one member, and
the answer a send got. A send is answered at most once: its answer's primary key is the send's id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Survey(Base):
    """A survey definition. `questions` holds the custom questions (key, type, options, required, texts in en and
    zh-CN); an NPS or CSAT survey has none: its score and comment are the kind's own."""

    __tablename__ = "surveys"
    __table_args__ = (CheckConstraint("kind IN ('nps', 'csat', 'custom')", name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    title_en: Mapped[str] = mapped_column(String(200))
    title_zh_cn: Mapped[str] = mapped_column(String(200))
    # The score question of an NPS or CSAT survey ("How likely are you to recommend us?"), or an introduction.
    prompt_en: Mapped[str] = mapped_column(String(500))
    prompt_zh_cn: Mapped[str] = mapped_column(String(500))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    comment_required: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class SurveySend(Base):
    """One survey sent to one member, from one source (a journey step, a campaign's journey, a closed ticket).
    Unique per (survey, member, source, source id), so a retried step or a second close hand-off finds the send
    it made instead of asking twice."""

    __tablename__ = "survey_sends"
    __table_args__ = (
        CheckConstraint("source IN ('journey', 'campaign', 'ticket', 'api')", name="source_known"),
        Index("ix_survey_sends_member", "member_id"),
        Index("uq_survey_sends_origin", "survey_id", "member_id", "source", "source_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(10))
    # The journey run's step key, the campaign id, the ticket id: ids only.
    source_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SurveyAnswer(Base):
    """What the member answered to one send: the score (NPS 0-10, CSAT 1-5), their comment, and the custom
    questions' answers by question key, in the custom field types' canonical forms."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 10)", name="score_range"),
        Index("ix_survey_answers_survey_answered", "survey_id", "answered_at"),
        Index("ix_survey_answers_member", "member_id"),
    )

    send_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survey_sends.id"), primary_key=True)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
