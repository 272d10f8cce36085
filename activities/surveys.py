"""The survey activity of the journey's `send_survey` step: record the send and queue its invitation, once per
step of a run. A survey that is gone or inactive, or a member who was erased, skips the step (the run goes on)
rather than failing the journey, and the result says why."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.errors import Conflict, NotFound
from services import care
from services.platform import outbox

SEND_SURVEY_ACTIVITY = "care.send_survey"


class SendSurveyInput(BaseModel):
    member_id: str
    survey: str  # the survey's key
    channel: Literal["email", "sms"] = "email"
    source: Literal["journey", "campaign"] = "journey"
    # The journey step's key (workflow id, run id, step id), or the campaign's id: ids only.
    source_id: str
    task_queue: str


class SurveySent(BaseModel):
    status: Literal["sent", "skipped"]
    send_id: str | None = None
    reason: str | None = None  # why it was skipped: survey_not_found, survey_inactive, member_erased


class SurveyActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=SEND_SURVEY_ACTIVITY)
    async def send_survey(self, inp: SendSurveyInput) -> SurveySent:
        async with self._sessions() as session:
            try:
                send = await care.send_survey(
                    session,
                    inp.survey,
                    uuid.UUID(inp.member_id),
                    source=inp.source,
                    source_id=inp.source_id,
                    channel=inp.channel,
                    task_queue=inp.task_queue,
                )
            except (NotFound, Conflict) as exc:
                return SurveySent(status="skipped", reason=exc.code)
            send_id = str(send.id)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        # The worker's relay would deliver the invitation's start; do it now.
        if pending:
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return SurveySent(status="sent", send_id=send_id)

    def all(self) -> list[Callable[..., Any]]:
        return [self.send_survey]
