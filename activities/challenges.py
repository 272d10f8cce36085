"""Activities of the challenges: settle a member's run (complete and pay once, or fail at the deadline) and the
daily enrolment of members in the windows opening today. Thin: one session, one service call, one commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services import challenges
from services.platform import outbox
from workflows.contracts import SettleInput, SettleOutcome

SETTLE_ACTIVITY = "challenges.settle"
ENROL_DUE_ACTIVITY = "challenges.enrol_due"


class EnrolDueInput(BaseModel):
    day: date
    task_queue: str


class EnrolDueResult(BaseModel):
    enrolled: dict[str, int]


class ChallengeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=SETTLE_ACTIVITY)
    async def settle(self, inp: SettleInput) -> SettleOutcome:
        async with self._sessions() as session:
            outcome = await challenges.settle(
                session, uuid.UUID(inp.member_challenge_id), deadline_passed=inp.deadline_passed
            )
            await session.commit()
            return outcome

    @activity.defn(name=ENROL_DUE_ACTIVITY)
    async def enrol_due(self, inp: EnrolDueInput) -> EnrolDueResult:
        async with self._sessions() as session:
            enrolled = await challenges.enrol_due(session, inp.day, task_queue=inp.task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        if pending:  # the relay would deliver the starts; do it now
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return EnrolDueResult(enrolled=enrolled)

    def all(self) -> list[Callable[..., Any]]:
        return [self.settle, self.enrol_due]
