"""The Referral workflow's two activities: pay both members, or cancel. Each is one transaction over a locked
referral row, so a retry (or a second call racing the first) finds it settled and pays nothing again. A payout
records the referrer's `referral_rewarded` event in the same transaction (services.intake.programme_events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services import referrals
from services.intake import programme_events
from services.platform import outbox

REWARD_ACTIVITY = "referrals.reward"
CANCEL_ACTIVITY = "referrals.cancel"


class SettleReferral(BaseModel):
    referral_id: str
    reason: str | None = None  # why it is cancelled (cancel only)


class ReferralSettled(BaseModel):
    status: str  # the referral's status afterwards: rewarded, cancelled


class ReferralActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=REWARD_ACTIVITY)
    async def reward(self, inp: SettleReferral) -> ReferralSettled:
        async with self._sessions() as session:
            referral_id = uuid.UUID(inp.referral_id)
            status = await referrals.reward(session, referral_id)
            if status == "rewarded":  # once: the event's key refuses a second one on a retry
                await programme_events.referral_rewarded(session, referral_id, task_queue=activity.info().task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        if pending:  # the journeys the event starts: the worker's relay would deliver them; do it now
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return ReferralSettled(status=status)

    @activity.defn(name=CANCEL_ACTIVITY)
    async def cancel(self, inp: SettleReferral) -> ReferralSettled:
        async with self._sessions() as session:
            status = await referrals.cancel(session, uuid.UUID(inp.referral_id), inp.reason or "order_refunded")
            await session.commit()
        return ReferralSettled(status=status)

    def all(self) -> list[Callable[..., Any]]:
        return [self.reward, self.cancel]
