"""The ServiceTicket workflow's contract: its input, the command its updates take, the status it answers with,
and its start. Ids, statuses, staff names and times only: a ticket's subject, description and replies stay in
PostgreSQL (a reply travels as the id of the row the API stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import (
    JOURNEY_KIND,
    MEMBER_ID,
    SERVICE_TICKET_WORKFLOW,
    TICKET_ID,
    Id,
    ticket_workflow_id,
)
from workflows.contracts.starts import WorkflowStart, search_attributes

TICKET_JOURNEY_KIND = "service_ticket"  # the JourneyKind its runs carry, and its messages' journey_kind
# Statuses a command may set (closing and reopening have their own updates).
WORKING_STATUSES = ("open", "in_progress", "waiting_on_member")


class TicketInput(BaseModel):
    ticket_id: str


class TicketCommand(BaseModel):
    """What a person asks of a ticket. `by` is the staff name (or "member"); a reply is the id of the
    ticket_events row holding its text; `status` for set_status, `assignee` for assign."""

    by: str
    by_type: Literal["staff", "member"] = "staff"
    reply_id: str | None = None
    status: str | None = None
    assignee: str | None = None


class TicketStatus(BaseModel):
    ticket_id: str
    # opening (before its first activity), open, in_progress, waiting_on_member, closed, done (the run ended)
    status: str
    assignee: str | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_at: datetime | None = None
    # The SLAs missed so far: "first_response", "resolution:{closing}".
    breaches: list[str] = []
    closings: int = 0
    closed_at: datetime | None = None
    # Until when a closed ticket may be reopened.
    reopen_until: datetime | None = None
    # Closings whose survey is due (ticket_surveys_due rows written).
    surveys_due: list[int] = []


def ticket_start(inp: TicketInput, *, member_id: Id, task_queue: str) -> WorkflowStart:
    """A ticket's workflow: once per ticket."""
    return WorkflowStart(
        workflow=SERVICE_TICKET_WORKFLOW,
        id=ticket_workflow_id(inp.ticket_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes(
            (TICKET_ID, inp.ticket_id), (MEMBER_ID, str(member_id)), (JOURNEY_KIND, TICKET_JOURNEY_KIND)
        ),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
