"""Activities of the ServiceTicket workflow: read the ticket as it opened, route it, apply an accepted command,
flag a missed SLA, record a survey due and send it. Each commits once and is idempotent by the key the workflow
gives; each answers with the ticket's state in ids, statuses and times (never its subject, description or
replies)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.settings import CareSettings
from models import Ticket
from services.care import sla, steps, tickets
from services.platform import outbox
from workflows import contracts


class TicketState(BaseModel):
    ticket_id: str
    member_id: str
    status: str
    priority: str
    assignee: str | None
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    closings: int
    # From the settings when the ticket opened: what the confirmation promises and the windows after a close.
    first_response_hours: float = 0
    resolution_hours: float = 0
    reopen_days: float = 0
    survey_delay_hours: float = 0


class ApplyInput(BaseModel):
    ticket_id: str
    update: str
    command: contracts.TicketCommand
    seq: int
    at: datetime


class BreachInput(BaseModel):
    ticket_id: str
    kind: str  # first_response, resolution:{closing}
    at: datetime


class SurveyDueInput(BaseModel):
    ticket_id: str
    closing: int
    at: datetime


class RouteInput(BaseModel):
    ticket_id: str
    at: datetime


class CareActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], care: CareSettings, task_queue: str) -> None:
        self._sessions = sessions
        self._care = care
        self._task_queue = task_queue  # where the journeys and rule messages a ticket event triggers run

    def _state(self, ticket: Ticket) -> TicketState:
        target = sla.target(self._care, ticket.priority)
        return TicketState(
            ticket_id=str(ticket.id),
            member_id=str(ticket.member_id),
            status=ticket.status,
            priority=ticket.priority,
            assignee=ticket.assignee,
            first_response_due_at=ticket.first_response_due_at,
            resolution_due_at=ticket.resolution_due_at,
            first_response_at=ticket.first_response_at,
            closed_at=ticket.closed_at,
            closings=ticket.closings,
            first_response_hours=target.first_response_hours,
            resolution_hours=target.resolution_hours,
            reopen_days=self._care.reopen_days,
            survey_delay_hours=self._care.survey_delay_hours,
        )

    async def _commit(self, session: AsyncSession) -> None:
        """Commit, then deliver the journey starts and signals a ticket event queued (services.care.triggers) at
        once; the worker's relay would retry them, and delivery is idempotent by workflow id."""
        pending = outbox.take_pending_ids(session)
        await session.commit()
        if pending:
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)

    @activity.defn(name="care.load")
    async def load(self, ticket_id: str) -> TicketState:
        async with self._sessions() as session:
            return self._state(await tickets.get(session, uuid.UUID(ticket_id)))

    @activity.defn(name="care.route")
    async def route(self, inp: RouteInput) -> TicketState:
        async with self._sessions() as session:
            ticket = await steps.route(session, uuid.UUID(inp.ticket_id), inp.at, task_queue=self._task_queue)
            state = self._state(ticket)
            await self._commit(session)
        return state

    @activity.defn(name="care.apply")
    async def apply(self, inp: ApplyInput) -> TicketState:
        async with self._sessions() as session:
            ticket = await steps.apply(
                session,
                uuid.UUID(inp.ticket_id),
                inp.update,
                inp.command,
                seq=inp.seq,
                at=inp.at,
                care=self._care,
                task_queue=self._task_queue,
            )
            state = self._state(ticket)
            await self._commit(session)
        return state

    @activity.defn(name="care.breach")
    async def breach(self, inp: BreachInput) -> TicketState:
        async with self._sessions() as session:
            ticket = await steps.breach(session, uuid.UUID(inp.ticket_id), inp.kind, inp.at)
            state = self._state(ticket)
            await session.commit()
        return state

    @activity.defn(name="care.survey_due")
    async def survey_due(self, inp: SurveyDueInput) -> None:
        async with self._sessions() as session:
            await steps.survey_due(
                session,
                uuid.UUID(inp.ticket_id),
                inp.closing,
                inp.at,
                survey_key=self._care.ticket_survey,
                task_queue=self._task_queue,
            )
            await self._commit(session)  # the survey's invitation workflow starts at once

    def all(self) -> list[Callable[..., Any]]:
        return [self.load, self.route, self.apply, self.breach, self.survey_due]
