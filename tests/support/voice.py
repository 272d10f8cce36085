"""Tickets and survey answers written straight into a database as if they had been worked weeks ago (opened,
answered, closed, answered at given times), for the voice-of-the-customer KPIs: the ServiceTicket workflow and the
portal's survey page are tested elsewhere, these tests need known times."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models import CareQueue, Survey, SurveyAnswer, SurveySend, Ticket, TicketEvent


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


async def seeded_survey(session: AsyncSession, kind: str, label: str) -> uuid.UUID:
    """An active survey of `kind` (nps, csat, custom) with a unique key `{label}-{kind}-…`."""
    key = f"{label}-{kind}-{uuid.uuid4().hex[:8]}"
    survey = Survey(
        key=key,
        kind=kind,
        title_en=key,
        title_zh_cn=key,
        prompt_en="How did we do?",
        prompt_zh_cn="我们做得怎么样？",
        questions=[],
    )
    session.add(survey)
    await session.flush()
    return survey.id


async def seeded_answer(
    session: AsyncSession,
    *,
    survey_id: uuid.UUID,
    member_id: uuid.UUID,
    score: int | None,
    at: datetime,
    comment: str | None = None,
    ticket_id: uuid.UUID | None = None,
    closing: int = 1,
) -> uuid.UUID:
    """A send answered at `at` (sent an hour before), from the ticket's closing when a ticket is given (its
    source id as services.care.ticket_surveys writes it), else from the API. Returns the send's id."""
    if ticket_id is None:
        source, source_id = "api", f"test-{uuid.uuid4()}"
    else:
        source, source_id = "ticket", str(ticket_id) if closing == 1 else f"{ticket_id}:{closing}"
    send = SurveySend(
        survey_id=survey_id,
        member_id=member_id,
        source=source,
        source_id=source_id,
        channel="email",
        sent_at=at - timedelta(hours=1),
        answered_at=at,
    )
    session.add(send)
    await session.flush()
    session.add(
        SurveyAnswer(
            send_id=send.id, survey_id=survey_id, member_id=member_id, score=score, comment=comment, answered_at=at
        )
    )
    await session.flush()
    return send.id
