"""Tickets: opening one (the row, its first history line and its ServiceTicket workflow start, in one
transaction), and the reads the API and the console share: one ticket, a queue's tickets, a member's tickets,
a ticket's history. After opening, only the workflow's activities change a ticket (services.care.steps)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.ids import uuid7
from core.settings import CareSettings
from models import Ticket, TicketEvent
from services import members
from services.care import queues, sla
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows import contracts

MAX_DESCRIPTION = 5000
DRAFT_REPLY = "draft_reply"  # a reply stored by the API whose update the workflow has not accepted yet


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WEB = "web"
    APP = "app"
    STORE = "store"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Status(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_MEMBER = "waiting_on_member"
    CLOSED = "closed"


Category = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION)]
StaffName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    channel: Channel
    category: Category
    priority: Priority = Priority.NORMAL
    subject: Subject
    description: Description
    # A queue's code; the default queue (settings.care.default_queue) when left out.
    queue: str | None = None
    # A person to assign it to at once; otherwise the queue's role picks it up.
    assignee: StaffName | None = None


async def create(
    session: AsyncSession,
    data: TicketCreate,
    *,
    care: CareSettings,
    task_queue: str,
    opened_by: str,
    actor: Actor | None,
) -> Ticket:
    """Open a ticket for an active member (404 unknown, 409 erased; 422 for an unknown queue). The caller
    commits; the outbox then starts the ticket's workflow, which confirms, assigns and watches the SLA.
    `opened_by` names the opener on the ticket; audited as `ticket.open` when a person opens it (`actor`): a
    helpdesk integration's tickets are its traffic, recorded in the ticket and its first history line."""
    member = await members.get_active(session, data.member_id)
    queue = await queues.by_code(session, data.queue or care.default_queue)
    now = datetime.now(UTC)
    due = sla.deadlines(care, data.priority.value, now)
    ticket = Ticket(
        id=uuid7(),
        member_id=member.id,
        channel=data.channel.value,
        category=data.category,
        priority=data.priority.value,
        subject=data.subject,
        description=data.description,
        status=Status.OPEN.value,
        queue_id=queue.id,
        assignee=data.assignee,
        first_response_due_at=due.first_response_due_at,
        resolution_due_at=due.resolution_due_at,
        opened_at=now,
        closings=0,
        opened_by=opened_by[:100],
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="opened",
            author_type="staff",
            author=opened_by[:100],
            to_status=Status.OPEN.value,
            event_key=f"{ticket.id}:opened",
            created_at=now,
        )
    )
    start = contracts.ticket_start(
        contracts.TicketInput(ticket_id=str(ticket.id)), member_id=member.id, task_queue=task_queue
    )
    await outbox.enqueue_start(session, start)
    if actor is not None:
        await audit.record(
            session,
            actor,
            action="ticket.open",
            target_type="ticket",
            target_id=str(ticket.id),
            details={"member_id": str(member.id), "queue": queue.code, "priority": ticket.priority},
        )
    return ticket


async def get(session: AsyncSession, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"ticket {ticket_id} does not exist", code="ticket_not_found")
    return found


async def listing(
    session: AsyncSession,
    *,
    queue_id: uuid.UUID | None = None,
    status: Status | None = None,
    breached: bool | None = None,
    member_id: uuid.UUID | None = None,
    limit: int = 50,
    after: uuid.UUID | None = None,
) -> list[Ticket]:
    """Newest first, by id (uuid7: time ordered); `after` is the last id of the previous page."""
    stmt = select(Ticket)
    if queue_id is not None:
        stmt = stmt.where(Ticket.queue_id == queue_id)
    if status is not None:
        stmt = stmt.where(Ticket.status == status.value)
    if breached is not None:
        stmt = stmt.where(Ticket.breached_at.is_not(None) if breached else Ticket.breached_at.is_(None))
    if member_id is not None:
        stmt = stmt.where(Ticket.member_id == member_id)
    if after is not None:
        stmt = stmt.where(Ticket.id < after)
    return list((await session.execute(stmt.order_by(Ticket.id.desc()).limit(limit))).scalars())


async def queue_board(session: AsyncSession, queue_id: uuid.UUID, *, limit: int = 200) -> list[Ticket]:
    """A queue's tickets still being worked, the nearest deadline first (what the queue page shows)."""
    stmt = (
        select(Ticket)
        .where(Ticket.queue_id == queue_id, Ticket.status != Status.CLOSED.value)
        .order_by(Ticket.resolution_due_at, Ticket.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def history(session: AsyncSession, ticket_id: uuid.UUID) -> list[TicketEvent]:
    """The ticket's lines, oldest first; replies the workflow refused (or has not taken yet) are left out."""
    stmt = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind != DRAFT_REPLY)
        .order_by(TicketEvent.created_at, TicketEvent.id)
    )
    return list((await session.execute(stmt)).scalars())


async def queue_counts(session: AsyncSession) -> dict[uuid.UUID, tuple[int, int]]:
    """Per queue: tickets still being worked, and how many of them missed an SLA."""
    stmt = (
        select(Ticket.queue_id, func.count(), func.count(Ticket.breached_at))
        .where(Ticket.status != Status.CLOSED.value)
        .group_by(Ticket.queue_id)
    )
    return {queue_id: (int(open_), int(breached)) for queue_id, open_, breached in await session.execute(stmt)}
