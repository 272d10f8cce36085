"""Messages sent (or deliberately not sent) to members, and the templates they are rendered from."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Message(Base):
    """One message a journey or a flow asked for, under a deterministic key so a retry finds this row.

    The status moves queued → sending → sent (→ delivered when the provider reports it), or ends as
    suppressed (consent, frequency cap, no address) or failed; `reason` says why. A `queued` row is claimed
    by the send attempt working on it (`claimed_by`), and becomes `sending` only right before that attempt
    hands it to the provider (see activities/messaging.py)."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'suppressed', 'failed')", name="status_known"
        ),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("category IN ('marketing', 'transactional')", name="category_known"),
        CheckConstraint("(status IN ('sent', 'delivered')) = (sent_at IS NOT NULL)", name="sent_at_matches_status"),
        Index("ix_messages_member_created", "member_id", "created_at"),
        Index("ix_messages_status_created", "status", "created_at"),
        # Campaign results count a campaign's messages by status (added by the campaigns migration).
        Index("ix_messages_campaign", "campaign_id", "status", postgresql_where=text("campaign_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # Deterministic and attempt-independent, e.g. "{workflow id}:{run id}:{step id}".
    message_key: Mapped[str] = mapped_column(String(512), unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(64))
    # The locale the template was found in (after fallback); NULL when suppressed before rendering.
    locale: Mapped[str | None] = mapped_column(String(35))
    category: Mapped[str] = mapped_column(String(20))
    journey_kind: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    # Why it was suppressed or failed; the last provider error while it waits for a retry.
    reason: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    # The rendered body, for the message log.
    body: Mapped[str | None] = mapped_column(Text)
    # The send attempt that holds the row ("{workflow run}/{activity}#{attempt}", or "resend:…"): only it may
    # move it to `sending`; a retry takes the claim over from an attempt that died before the hand-over.
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class MessageTemplate(Base):
    """A Jinja2 template for one message on one channel in one locale. Marketers edit the text; the
    built-in ones are seeded when missing and never overwritten."""

    __tablename__ = "message_templates"
    __table_args__ = (
        CheckConstraint("key ~ '^[a-z0-9_]{2,64}$'", name="key_format"),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("(channel = 'email') = (subject IS NOT NULL)", name="subject_for_email"),
    )

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    locale: Mapped[str] = mapped_column(String(35), primary_key=True)
    # Email only.
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    updated_by: Mapped[str] = mapped_column(String(100))
