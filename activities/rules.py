"""Activities of the rules: the daily scan behind time triggers (and the calendar's events, which feed rules and
journeys alike), and the order check of delayed messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services import rules
from services.intake import calendar
from services.loyalty import expiry_reminders
from services.platform import outbox


class OrderedSinceInput(BaseModel):
    member_id: str
    since: datetime


class OrderedSince(BaseModel):
    ordered: bool


class RuleScanInput(BaseModel):
    today: date
    task_queue: str


class RuleScanResult(BaseModel):
    fired: dict[str, int]
    # The calendar's events recorded by this run (points_expiring, signup_anniversary), by type.
    events: dict[str, int] = {}


class RuleActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="rules.ordered_since")
    async def ordered_since(self, inp: OrderedSinceInput) -> OrderedSince:
        async with self._sessions() as session:
            return OrderedSince(ordered=await rules.ordered_since(session, uuid.UUID(inp.member_id), inp.since))

    @activity.defn(name="rules.daily_scan")
    async def daily_scan(self, inp: RuleScanInput) -> RuleScanResult:
        async with self._sessions() as session:
            fired = await rules.scan_due(session, today=inp.today, task_queue=inp.task_queue)
            leads = await expiry_reminders.leads(session)
            events = await calendar.scan_due(session, today=inp.today, leads=leads, task_queue=inp.task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        # The worker's relay would deliver the starts; do it now for the ones just written.
        if pending:
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return RuleScanResult(fired=fired, events=events)

    def all(self) -> list[Callable[..., Any]]:
        return [self.ordered_since, self.daily_scan]
