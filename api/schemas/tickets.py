"""Service ticket requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from api.pagination import Page
from services.care.tickets import MAX_DESCRIPTION, StaffName, Status

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION)]


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    channel: str
    category: str
    priority: str
    subject: str
    description: str
    status: str
    queue_id: uuid.UUID
    assignee: str | None
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_response_at: datetime | None
    breached_at: datetime | None
    breach: str | None
    opened_at: datetime
    closed_at: datetime | None
    reopened_at: datetime | None
    closings: int
    opened_by: str
    updated_at: datetime


class TicketEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    author_type: str
    author: str
    body: str | None
    from_status: str | None
    to_status: str | None
    assignee: str | None
    created_at: datetime


class TicketDetailOut(TicketOut):
    history: list[TicketEventOut]
    workflow_id: str


class TicketPage(Page[TicketOut]):
    pass


class TicketStatusOut(BaseModel):
    """What the ticket's workflow answered: its status after the command, and the SLA it watches."""

    ticket_id: uuid.UUID
    status: str
    assignee: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_at: datetime | None
    breaches: list[str]
    closings: int
    closed_at: datetime | None
    reopen_until: datetime | None


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text
    # True when the helpdesk relays what the member wrote; otherwise the reply is the calling staff's.
    from_member: bool = False


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: StaffName


class QueueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    lead: str
    role: str
