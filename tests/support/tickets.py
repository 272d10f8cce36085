"""Service ticket helpers: a queue of one's own, a ticket opened through the API, waiting for its workflow."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from temporalio.client import Client

from models import StaffTask, TicketEvent
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.waiting import value_when
from workflows import contracts


async def new_queue(admin: ApiClient, **overrides: Any) -> dict[str, Any]:
    """A queue with a unique code and lead (queues are global rows shared by the session's tests)."""
    tag = uuid.uuid4().hex[:8]
    body = {"code": f"q-{tag}", "name": f"Care {tag}", "lead": f"lead-{tag}", **overrides}
    response = await admin.post("/api/v1/ticket-queues", json=body)
    assert response.status_code == 201, response.text
    queue: dict[str, Any] = response.json()
    return queue


def ticket_body(member_id: str, queue: str, **overrides: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "channel": "email",
        "category": "delivery",
        "priority": "normal",
        "subject": "Parcel arrived damaged",
        "description": "The tin of oolong was dented and the lid does not close.",
        "queue": queue,
        **overrides,
    }


async def open_ticket(client: ApiClient, member_id: str, queue: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/tickets", json=ticket_body(member_id, queue, **overrides))
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def ticket_status(temporal: Client, ticket_id: str) -> contracts.TicketStatus:
    handle = temporal.get_workflow_handle(contracts.ticket_workflow_id(ticket_id))
    status: contracts.TicketStatus = await handle.query(contracts.STATUS_QUERY, result_type=contracts.TicketStatus)
    return status


async def routed(temporal: Client, ticket_id: str) -> contracts.TicketStatus:
    """The status once the workflow confirmed and routed the ticket (it then takes commands)."""

    async def read() -> contracts.TicketStatus | None:
        try:
            return await ticket_status(temporal, ticket_id)
        except Exception:  # noqa: BLE001 - the outbox may not have started the workflow yet
            return None

    status = await value_when(
        read, lambda s: s is not None and s.status != "opening", what=f"ticket {ticket_id} to open"
    )
    assert status is not None
    return status


async def member_tasks(sessions: Sessions, member_id: str) -> list[StaffTask]:
    async with sessions() as session:
        rows = await session.execute(
            select(StaffTask).where(StaffTask.member_id == uuid.UUID(member_id)).order_by(StaffTask.created_at)
        )
        return list(rows.scalars())


async def ticket_lines(sessions: Sessions, ticket_id: str) -> list[TicketEvent]:
    """Every line, drafts included, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == uuid.UUID(ticket_id)).order_by(TicketEvent.created_at)
        )
        return list(rows.scalars())
