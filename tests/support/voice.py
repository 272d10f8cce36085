"""Tickets written straight into a database as if they had been worked weeks ago (opened, answered, closed at
given times), for the voice-of-the-customer KPIs: the ServiceTicket workflow is tested elsewhere, these tests need
known times."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models import CareQueue, Ticket, TicketEvent


async def seeded_queue(session: AsyncSession, label: str) -> uuid.UUID:
    tag = f"{label}-{uuid.uuid4().hex[:8]}"
    queue = CareQueue(code=tag, name=f"Care {tag}", lead=f"lead-{tag}", role="ops")
    session.add(queue)
    await session.flush()
    return queue.id


async def seeded_ticket(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    queue_id: uuid.UUID,
    opened_at: datetime,
    category: str,
    priority: str,
    subject: str,
    description: str,
    responded_after: timedelta | None = None,
    closed_after: timedelta | None = None,
    response_sla: timedelta = timedelta(hours=4),
    resolution_sla: timedelta = timedelta(hours=24),
) -> uuid.UUID:
    """A ticket opened at `opened_at`, first answered by staff and closed after the given times (if given)."""
    closed_at = opened_at + closed_after if closed_after is not None else None
    ticket = Ticket(
        member_id=member_id,
        channel="email",
        category=category,
        priority=priority,
        subject=subject,
        description=description,
        status="closed" if closed_at else "open",
        queue_id=queue_id,
        first_response_due_at=opened_at + response_sla,
        resolution_due_at=opened_at + resolution_sla,
        first_response_at=opened_at + responded_after if responded_after is not None else None,
        opened_at=opened_at,
        closed_at=closed_at,
        closings=1 if closed_at else 0,
        opened_by="test",
        updated_at=closed_at or opened_at,
    )
    session.add(ticket)
    await session.flush()
    return ticket.id


async def seeded_reply(
    session: AsyncSession, ticket_id: uuid.UUID, body: str, at: datetime, *, author_type: str = "member"
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            kind="reply",
            author_type=author_type,
            author="Li Wei" if author_type == "member" else "agent-1",
            body=body,
            event_key=f"test-reply-{uuid.uuid4()}",
            created_at=at,
        )
    )
    await session.flush()
