"""The CheckoutHold workflow's one activity: at the timeout, release what the checkout still holds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.loyalty import checkouts

EXPIRE_CHECKOUT_ACTIVITY = "checkouts.expire"


class ExpireInput(BaseModel):
    checkout_id: str


class ExpireResult(BaseModel):
    # expired (this call released the hold), or captured / released when the API settled it first
    status: str


class CheckoutActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def all(self) -> list[Callable[..., Any]]:
        return [self.expire]

    @activity.defn(name=EXPIRE_CHECKOUT_ACTIVITY)
    async def expire(self, inp: ExpireInput) -> ExpireResult:
        """Idempotent: a retry after a commit finds the checkout expired and changes nothing."""
        async with self._sessions() as session:
            status = await checkouts.expire(session, uuid.UUID(inp.checkout_id))
            await session.commit()
        return ExpireResult(status=status)
