"""The changes the ServiceTicket workflow's activities make: route a new ticket to its queue or person (a staff
task), apply an accepted command, flag a missed SLA (and tell the queue's lead through a staff task), record
that a closed ticket's survey is due. Each is idempotent by a key the workflow derives, so a retried activity
changes nothing twice; times are the workflow's (`at`), so the history and the rows agree."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.settings import CareSettings
from models import Ticket, TicketEvent, TicketSurveyDue
from services.care import queues, sla, ticket_surveys, tickets, triggers
from services.care.tickets import DRAFT_REPLY, Status
from services.journeys import tasks
from workflows import contracts

SYSTEM = "memberflow"


def reference(ticket_id: uuid.UUID) -> str:
    """The short reference people quote (the tail of the id: uuid7's head is its time)."""
    return ticket_id.hex[-8:].upper()


async def _seen(session: AsyncSession, event_key: str) -> bool:
    stmt = select(TicketEvent.id).where(TicketEvent.event_key == event_key)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def _line(session: AsyncSession, ticket: Ticket, kind: str, key: str, at: datetime, **values: str | None) -> None:
    await session.execute(
        insert(TicketEvent)
        .values(
            id=uuid.uuid4(),
            ticket_id=ticket.id,
            kind=kind,
            author_type=values.pop("author_type", None) or "memberflow",
            author=values.pop("author", None) or SYSTEM,
            event_key=key,
            created_at=at,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["event_key"])
    )


async def _task_for(session: AsyncSession, ticket: Ticket, *, assignee: str | None, key: str) -> None:
    queue = await queues.get(session, ticket.queue_id)
    await tasks.create(
        session,
        member_id=ticket.member_id,
        title=f"Ticket {reference(ticket.id)}: {ticket.category} ({ticket.priority}) in {queue.name}",
        assignee_role=queue.role,
        assignee=assignee,
        due_at=ticket.first_response_due_at if ticket.first_response_at is None else ticket.resolution_due_at,
        source_key=key,
    )


async def route(session: AsyncSession, ticket_id: uuid.UUID, at: datetime, *, task_queue: str) -> Ticket:
    """The ticket's first assignment: a staff task for its person, or for its queue's role; then its
    `ticket_opened` for rules and journeys (after the confirmation, which the workflow sent before)."""
    ticket = await tickets.get(session, ticket_id, for_update=True)
    key = f"{ticket.id}:routed"
    if not await _seen(session, key):
        await _task_for(session, ticket, assignee=ticket.assignee, key=f"ticket:{ticket.id}:assign:0")
        queue = await queues.get(session, ticket.queue_id)
        await _line(session, ticket, "assigned", key, at, assignee=ticket.assignee or f"queue:{queue.code}")
        await triggers.emit(
            session, ticket, triggers.TICKET_OPENED, triggers.opened_key(ticket), at, task_queue=task_queue
        )
    return ticket


async def apply(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    update: str,
    command: contracts.TicketCommand,
    *,
    seq: int,
    at: datetime,
    care: CareSettings,
    task_queue: str,
) -> Ticket:
    """One accepted command. The workflow validated it against its own state, which these rows mirror. A close
    is a `ticket_closed` for rules and journeys, once per closing."""
    ticket = await tickets.get(session, ticket_id, for_update=True)
    key = f"{ticket.id}:{seq}:{update}"
    if update == contracts.TICKET_REPLY_UPDATE:
        await _reply(session, ticket, command, at)
        return ticket
    if await _seen(session, key):
        return ticket
    who = {"author": command.by, "author_type": command.by_type, "from_status": ticket.status}
    if update == contracts.TICKET_STATUS_UPDATE:
        ticket.status = command.status or ticket.status
        await _line(session, ticket, "status", key, at, to_status=ticket.status, **who)
    elif update == contracts.TICKET_ASSIGN_UPDATE:
        ticket.assignee = command.assignee
        await _task_for(session, ticket, assignee=command.assignee, key=f"ticket:{ticket.id}:assign:{seq}")
        await _line(session, ticket, "assigned", key, at, assignee=command.assignee, **who)
    elif update == contracts.TICKET_CLOSE_UPDATE:
        ticket.status, ticket.closed_at, ticket.closings = Status.CLOSED.value, at, ticket.closings + 1
        await _line(session, ticket, "closed", key, at, to_status=ticket.status, **who)
        await triggers.emit(
            session, ticket, triggers.TICKET_CLOSED, triggers.closed_key(ticket), at, task_queue=task_queue
        )
    elif update == contracts.TICKET_REOPEN_UPDATE:
        ticket.status, ticket.reopened_at = Status.OPEN.value, at
        ticket.resolution_due_at = at + timedelta(hours=sla.target(care, ticket.priority).resolution_hours)
        await _line(session, ticket, "reopened", key, at, to_status=ticket.status, **who)
    ticket.updated_at = at
    await session.flush()
    return ticket


async def _reply(session: AsyncSession, ticket: Ticket, command: contracts.TicketCommand, at: datetime) -> None:
    """The draft the API stored becomes a line of the history; a staff reply is the first response, a member's
    reply to a ticket waiting on them puts it back to open."""
    if command.reply_id is None:
        return
    draft = await session.get(TicketEvent, uuid.UUID(command.reply_id), with_for_update=True)
    if draft is None or draft.ticket_id != ticket.id:
        raise NotFound(f"reply {command.reply_id} does not exist", code="reply_not_found")
    if draft.kind != DRAFT_REPLY:
        return  # a retry after this committed
    draft.kind, draft.created_at, draft.from_status = "reply", at, ticket.status
    if command.by_type == "staff" and ticket.first_response_at is None:
        ticket.first_response_at = at
    if command.by_type == "member" and ticket.status == Status.WAITING_ON_MEMBER.value:
        ticket.status = Status.OPEN.value
    draft.to_status = ticket.status
    ticket.updated_at = at
    await session.flush()


async def breach(session: AsyncSession, ticket_id: uuid.UUID, kind: str, at: datetime) -> Ticket:
    """An SLA missed: the ticket is flagged (the first breach stays the ticket's), a line says which, and the
    queue's lead gets a staff task."""
    ticket = await tickets.get(session, ticket_id, for_update=True)
    key = f"{ticket.id}:breach:{kind}"
    if await _seen(session, key):
        return ticket
    queue = await queues.get(session, ticket.queue_id)
    if ticket.breached_at is None:
        ticket.breached_at, ticket.breach = at, kind.split(":")[0]
    await tasks.create(
        session,
        member_id=ticket.member_id,
        title=f"SLA missed ({kind.split(':')[0].replace('_', ' ')}): ticket {reference(ticket.id)} in {queue.name}",
        assignee_role=queue.role,
        assignee=queue.lead,
        due_at=at,
        source_key=f"ticket:{ticket.id}:breach:{kind}",
    )
    await _line(session, ticket, "breached", key, at, assignee=queue.lead, body=None)
    ticket.updated_at = at
    await session.flush()
    return ticket


async def survey_due(
    session: AsyncSession, ticket_id: uuid.UUID, closing: int, at: datetime, *, survey_key: str, task_queue: str
) -> None:
    """The row of this closing's survey and a line in the history; the survey (`survey_key`, empty for none) is
    sent as the row is first written, so a retry that finds the row sends nothing again."""
    ticket = await tickets.get(session, ticket_id)
    written = (
        await session.execute(
            insert(TicketSurveyDue)
            .values(ticket_id=ticket.id, closing=closing, member_id=ticket.member_id, due_at=at)
            .on_conflict_do_nothing(index_elements=["ticket_id", "closing"])
            .returning(TicketSurveyDue.ticket_id)
        )
    ).scalar_one_or_none()
    if written is not None:
        row = await session.get(TicketSurveyDue, (ticket.id, closing))
        assert row is not None  # written just above, in this transaction
        await ticket_surveys.send_for(session, row, survey_key, at=at, task_queue=task_queue)
    await _line(session, ticket, "survey_due", f"{ticket.id}:survey:{closing}", at)
    await session.flush()


async def surveys_due(session: AsyncSession, *, limit: int = 100) -> list[TicketSurveyDue]:
    """What the survey engine has still to send, oldest first."""
    stmt = (
        select(TicketSurveyDue)
        .where(TicketSurveyDue.picked_up_at.is_(None))
        .order_by(TicketSurveyDue.due_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
