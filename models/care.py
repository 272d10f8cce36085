"""Service tickets: queues (teams with a lead), tickets with their SLA deadlines, the ticket's history, and the
surveys due after a ticket closed. Only the ServiceTicket workflow's activities change a ticket after it opened,
so the history in Temporal and these rows tell the same story."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column

TICKET_STATUSES = ("open", "in_progress", "waiting_on_member", "closed")
TICKET_PRIORITIES = ("urgent", "high", "normal", "low")


class CareQueue(Base):
    """A team that works tickets: its tasks go to `role`, and its `lead` hears of every missed SLA."""

    __tablename__ = "care_queues"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    lead: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default="ops")
    created_at: Mapped[datetime] = created_at_column()


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(f"status IN {TICKET_STATUSES}", name="status_known"),
        CheckConstraint(f"priority IN {TICKET_PRIORITIES}", name="priority_known"),
        Index("ix_tickets_queue_status", "queue_id", "status", "resolution_due_at"),
        Index("ix_tickets_member_opened", "member_id", "opened_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    queue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_queues.id"))
    assignee: Mapped[str | None] = mapped_column(String(100))
    first_response_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first SLA missed, and which one (first_response or resolution).
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breach: Mapped[str | None] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How many times it was closed: numbers each closing's survey.
    closings: Mapped[int] = mapped_column(Integer, default=0)
    opened_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TicketEvent(Base):
    """One line of a ticket's history: opened, reply, status, assigned, closed, reopened, breached, survey_due.
    `event_key` is unique: a retried activity writes its line once."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(20))
    # staff (a person's name), member, or memberflow (the workflow itself)
    author_type: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(100))
    event_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TicketSurveyDue(Base):
    """A closed ticket whose survey delay has passed: the survey is sent as the row is written and the row is
    marked `picked_up_at`, with the send (`survey_send_id`) or why nothing was sent (`skipped`: the survey's key
    is not set, or the survey is missing or inactive, or the member was erased). One row per closing, so a
    reopened and closed-again ticket asks again."""

    __tablename__ = "ticket_surveys_due"
    __table_args__ = (Index("ix_ticket_surveys_due_waiting", "due_at", postgresql_where=text("picked_up_at IS NULL")),)

    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    closing: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    survey_send_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("survey_sends.id"))
    skipped: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at_column()
