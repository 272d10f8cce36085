"""Activities of the PlanTerm workflow: read the membership, grant a month's coupon, end the benefits at
expiry. Each is one transaction over the membership's row (services.plans.term) and answers in ids, dates and
plan names only, never anything about the person. The expiry records `plan_ended` in its transaction
(services.intake.programme_events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.intake import programme_events
from services.plans import term
from services.platform import outbox


class TermSnapshot(BaseModel):
    membership_id: str
    member_id: str
    status: str  # active, ended, cancelled
    started_at: datetime
    ends_at: datetime
    plan_code: str
    plan_name_en: str
    plan_name_zh_cn: str
    monthly_coupon: bool
    # When each month's coupon falls due, from the start up to the end (0: the start).
    grant_dues: list[datetime]


class GrantInput(BaseModel):
    membership_id: str
    month: int  # 0: the coupon at the start


class GrantResult(BaseModel):
    month: int
    result: str  # granted, or why not (inactive, past_end, no_coupon, template_inactive ...)


class ExpireInput(BaseModel):
    membership_id: str
    at: datetime


def _snapshot(state: term.TermState) -> TermSnapshot:
    return TermSnapshot(
        membership_id=str(state.membership_id),
        member_id=str(state.member_id),
        status=state.status,
        started_at=state.started_at,
        ends_at=state.ends_at,
        plan_code=state.plan.code,
        plan_name_en=state.plan.name_en,
        plan_name_zh_cn=state.plan.name_zh_cn,
        monthly_coupon=state.plan.monthly_coupon is not None,
        grant_dues=term.grant_dues(state.started_at, state.ends_at),
    )


class PlanActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="plans.load")
    async def load(self, membership_id: str) -> TermSnapshot:
        async with self._sessions() as session:
            return _snapshot(await term.state(session, uuid.UUID(membership_id)))

    @activity.defn(name="plans.grant_coupon")
    async def grant_coupon(self, inp: GrantInput) -> GrantResult:
        async with self._sessions() as session:
            result = await term.grant_coupon(session, uuid.UUID(inp.membership_id), inp.month)
            await session.commit()
        return GrantResult(month=inp.month, result=result)

    @activity.defn(name="plans.expire")
    async def expire(self, inp: ExpireInput) -> TermSnapshot:
        async with self._sessions() as session:
            membership_id = uuid.UUID(inp.membership_id)
            snapshot = _snapshot(await term.expire(session, membership_id, inp.at))
            if snapshot.status == "ended":  # once: the event's key refuses a second one on a retry
                await programme_events.plan_ended(session, membership_id, task_queue=activity.info().task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        if pending:  # the journeys the event starts: the worker's relay would deliver them; do it now
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return snapshot

    def all(self) -> list[Callable[..., Any]]:
        return [self.load, self.grant_coupon, self.expire]
