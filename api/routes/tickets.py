"""Service tickets: opened by a helpdesk integration or staff, listed per queue, status and breach, and worked
through commands (reply, status, assign, close, reopen) that go to the ticket's ServiceTicket workflow as
Temporal updates (services.care.commands); the workflow's activities change the database."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import AdminKey, IdempotencyKeyDep, SessionDep, SettingsDep, TemporalDep, require_roles
from api.pagination import TICKET_CURSOR, CursorQuery
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.tickets import (
    AssignBody,
    QueueOut,
    ReplyBody,
    StatusBody,
    TicketDetailOut,
    TicketEventOut,
    TicketOut,
    TicketPage,
    TicketStatusOut,
)
from models import ApiKey
from services import care
from services.care import queues
from services.platform import audit
from services.platform.api_keys import Role
from services.platform.audit import Actor
from workflows import contracts

router = APIRouter(tags=["tickets"], responses=ERROR_RESPONSES)
# The helpdesk (integration) and every staff role work tickets. A person's changes are audited; the helpdesk
# integration's are its traffic, kept in the ticket and its history (audit.person_or_none).
TicketKey = Annotated[ApiKey, Depends(require_roles(Role.INTEGRATION, Role.MARKETER, Role.APPROVER, Role.OPS))]


@router.post("/api/v1/tickets", status_code=201, response_model=TicketOut, summary="Open a service ticket")
async def open_ticket(
    request: Request,
    body: care.TicketCreate,
    session: SessionDep,
    key: TicketKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> TicketOut:
        ticket = await care.create(
            session,
            body,
            care=settings.care,
            task_queue=settings.temporal.task_queue,
            opened_by=key.name,
            actor=audit.person_or_none(key),
        )
        return TicketOut.model_validate(ticket)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/api/v1/tickets", response_model=TicketPage, summary="Tickets, newest first, by queue, status, breach")
async def list_tickets(
    session: SessionDep,
    _: TicketKey,
    queue: Annotated[str | None, Query(max_length=64, description="a queue's code")] = None,
    status: care.Status | None = None,
    breached: bool | None = None,
    member_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    queue_id = (await queues.by_code(session, queue)).id if queue else None
    rows = await care.listing(
        session,
        queue_id=queue_id,
        status=status,
        breached=breached,
        member_id=member_id,
        limit=limit + 1,
        after=TICKET_CURSOR.decode(cursor),
    )
    return TicketPage.of(rows, limit, TICKET_CURSOR, key=lambda t: t.id, item=TicketOut.model_validate)


@router.get("/api/v1/tickets/{ticket_id}", response_model=TicketDetailOut, summary="One ticket with its history")
async def get_ticket(ticket_id: uuid.UUID, session: SessionDep, _: TicketKey) -> TicketDetailOut:
    ticket = await care.get(session, ticket_id)
    history = [TicketEventOut.model_validate(line) for line in await care.history(session, ticket_id)]
    return TicketDetailOut(
        **TicketOut.model_validate(ticket).model_dump(),
        history=history,
        workflow_id=contracts.ticket_workflow_id(ticket_id),
    )


async def _command(
    session: SessionDep,
    temporal: TemporalDep,
    key: ApiKey,
    ticket_id: uuid.UUID,
    update: str,
    *,
    body: str | None = None,
    by_member: bool = False,
    status: str | None = None,
    assignee: str | None = None,
) -> TicketStatusOut:
    answer = await care.command(
        session,
        temporal,
        ticket_id,
        update,
        by=key.name,
        actor=audit.person_or_none(key),
        body=body,
        by_member=by_member,
        status=status,
        assignee=assignee,
    )
    await commit(session)
    return TicketStatusOut.model_validate(answer.model_dump())


@router.post("/api/v1/tickets/{ticket_id}/replies", response_model=TicketStatusOut, summary="Reply on a ticket")
async def reply(
    ticket_id: uuid.UUID, body: ReplyBody, session: SessionDep, key: TicketKey, temporal: TemporalDep
) -> TicketStatusOut:
    return await _command(
        session, temporal, key, ticket_id, contracts.TICKET_REPLY_UPDATE, body=body.body, by_member=body.from_member
    )


@router.post("/api/v1/tickets/{ticket_id}/status", response_model=TicketStatusOut, summary="Change a ticket's status")
async def set_status(
    ticket_id: uuid.UUID, body: StatusBody, session: SessionDep, key: TicketKey, temporal: TemporalDep
) -> TicketStatusOut:
    return await _command(session, temporal, key, ticket_id, contracts.TICKET_STATUS_UPDATE, status=body.status.value)


@router.post("/api/v1/tickets/{ticket_id}/assign", response_model=TicketStatusOut, summary="Assign to a person")
async def assign(
    ticket_id: uuid.UUID, body: AssignBody, session: SessionDep, key: TicketKey, temporal: TemporalDep
) -> TicketStatusOut:
    return await _command(session, temporal, key, ticket_id, contracts.TICKET_ASSIGN_UPDATE, assignee=body.assignee)


@router.post("/api/v1/tickets/{ticket_id}/close", response_model=TicketStatusOut, summary="Close a ticket")
async def close(ticket_id: uuid.UUID, session: SessionDep, key: TicketKey, temporal: TemporalDep) -> TicketStatusOut:
    return await _command(session, temporal, key, ticket_id, contracts.TICKET_CLOSE_UPDATE)


@router.post(
    "/api/v1/tickets/{ticket_id}/reopen",
    response_model=TicketStatusOut,
    summary="Reopen a closed ticket (within settings.care.reopen_days of its close)",
)
async def reopen(ticket_id: uuid.UUID, session: SessionDep, key: TicketKey, temporal: TemporalDep) -> TicketStatusOut:
    return await _command(session, temporal, key, ticket_id, contracts.TICKET_REOPEN_UPDATE)


@router.get("/api/v1/ticket-queues", response_model=list[QueueOut], summary="The queues (teams) that work tickets")
async def list_queues(session: SessionDep, _: TicketKey) -> list[QueueOut]:
    return [QueueOut.model_validate(q) for q in await queues.listing(session)]


@router.post("/api/v1/ticket-queues", status_code=201, response_model=QueueOut, summary="Add a queue with its lead")
async def create_queue(
    request: Request, body: care.QueueCreate, session: SessionDep, key: AdminKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> QueueOut:
        return QueueOut.model_validate(await queues.create(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)
