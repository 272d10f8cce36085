"""What people do to a ticket (reply, change its status, assign, close, reopen), whoever sends it (API or
console): a Temporal update to the ticket's ServiceTicket workflow, whose validator accepts or refuses it, then
the audit row. The workflow's activity makes the change, so a refused command changes nothing.

A reply's text never enters Temporal: it is stored first as a draft line, committed so the workflow's activity
can read it, and the update carries its id; a refused reply's draft is deleted again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError, Conflict, InvalidInput
from core.ids import uuid7
from models import TicketEvent
from services import members
from services.care import tickets
from services.care.tickets import DRAFT_REPLY, MAX_DESCRIPTION
from services.platform import audit
from services.platform.audit import Actor
from workflows import contracts

# How the workflow's update validators say no, as the API's errors.
_FAILURES: dict[str, tuple[type[AppError], str]] = {
    "TicketClosed": (Conflict, "ticket_closed"),
    "NotClosed": (Conflict, "ticket_not_closed"),
    "ReopenWindowClosed": (Conflict, "reopen_window_closed"),
    "NoChange": (Conflict, "no_change"),
    "NotReady": (Conflict, "ticket_not_ready"),
    "InvalidCommand": (InvalidInput, "validation_error"),
}
_ACTIONS = {
    contracts.TICKET_REPLY_UPDATE: "ticket.reply",
    contracts.TICKET_STATUS_UPDATE: "ticket.status",
    contracts.TICKET_ASSIGN_UPDATE: "ticket.assign",
    contracts.TICKET_CLOSE_UPDATE: "ticket.close",
    contracts.TICKET_REOPEN_UPDATE: "ticket.reopen",
}


async def send_update(
    temporal: Client, ticket_id: uuid.UUID, update: str, command: contracts.TicketCommand, *, closed: bool
) -> contracts.TicketStatus:
    """One update to the ticket's workflow; a validator's refusal becomes the matching 4xx. A workflow that
    has ended (after the reopen window of a closed ticket) refuses everything with 409."""
    handle = temporal.get_workflow_handle(contracts.ticket_workflow_id(ticket_id))
    try:
        status: contracts.TicketStatus = await handle.execute_update(
            update, command, result_type=contracts.TicketStatus
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        error, code = _FAILURES.get(kind or "", (Conflict, "update_rejected"))
        raise error(str(getattr(cause, "message", cause)), code=code) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        if closed and update == contracts.TICKET_REOPEN_UPDATE:
            raise Conflict("the window to reopen this ticket has passed", code="reopen_window_closed") from exc
        if closed:
            raise Conflict("this ticket is closed", code="ticket_closed") from exc
        raise Conflict("this ticket's workflow is not running yet; try again shortly", code="ticket_not_ready") from exc
    return status


async def _draft_reply(session: AsyncSession, ticket_id: uuid.UUID, body: str, author: str, by_type: str) -> uuid.UUID:
    reply_id = uuid7()
    session.add(
        TicketEvent(
            id=reply_id,
            ticket_id=ticket_id,
            kind=DRAFT_REPLY,
            author_type=by_type,
            author=author[:100],
            body=body,
            event_key=f"{ticket_id}:draft:{reply_id}",
            created_at=datetime.now(UTC),
        )
    )
    await session.commit()  # the workflow's activity reads it from its own transaction
    return reply_id


async def command(
    session: AsyncSession,
    temporal: Client,
    ticket_id: uuid.UUID,
    update: str,
    *,
    by: str,
    actor: Actor | None,
    by_member: bool = False,
    body: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
) -> contracts.TicketStatus:
    """Send one command and, when a person sent it (`actor`), write its audit row; returns the ticket's status
    as the workflow left it. `by` names the sender in the ticket's history (a helpdesk integration's commands
    are its traffic: the history is their record). The caller commits (the audit row). 404 for an unknown
    ticket; 409/422 from the workflow's validators."""
    ticket = await tickets.get(session, ticket_id)
    closed, member_id = ticket.status == tickets.Status.CLOSED.value, ticket.member_id
    by_type = "member" if by_member else "staff"
    cmd = contracts.TicketCommand(by=by[:100], by_type=by_type, status=status, assignee=assignee)
    if update == contracts.TICKET_REPLY_UPDATE:
        if not (body or "").strip() or len(body or "") > MAX_DESCRIPTION:
            message = f"a reply needs text, at most {MAX_DESCRIPTION} characters"
            raise InvalidInput(message, details=[{"field": "body", "message": message}])
        await members.get_active(session, member_id)  # nothing more is written about an erased member
        cmd.reply_id = str(await _draft_reply(session, ticket_id, (body or "").strip(), cmd.by, by_type))
    else:
        await session.rollback()  # no connection idles in a transaction while the workflow works
    try:
        result = await send_update(temporal, ticket_id, update, cmd, closed=closed)
    except (AppError, RPCError):
        if cmd.reply_id is not None:
            await session.execute(delete(TicketEvent).where(TicketEvent.id == uuid.UUID(cmd.reply_id)))
            await session.commit()
        raise
    if actor is not None:
        await _audit(session, actor, ticket_id, update, result, assignee=assignee, reply_id=cmd.reply_id)
    return result


async def _audit(
    session: AsyncSession,
    actor: Actor,
    ticket_id: uuid.UUID,
    update: str,
    result: contracts.TicketStatus,
    *,
    assignee: str | None,
    reply_id: str | None,
) -> None:
    details: dict[str, str | None] = {"status": result.status}
    if assignee is not None:
        details["assignee"] = assignee
    if reply_id is not None:
        details["reply_id"] = reply_id
    await audit.record(
        session, actor, action=_ACTIONS[update], target_type="ticket", target_id=str(ticket_id), details=details
    )
