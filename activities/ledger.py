"""Ledger maintenance activities: expire due lots, release stale holds. Each batch commits on its own."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.errors import AppError
from services.loyalty import ledger

log = logging.getLogger(__name__)


class BatchInput(BaseModel):
    now: datetime
    limit: int = 500


class BatchResult(BaseModel):
    processed: int
    failed: int = 0


class LedgerActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="ledger.expire_due_lots")
    async def expire_due_lots(self, inp: BatchInput) -> BatchResult:
        async with self._sessions() as session:
            count = await ledger.expire_due_lots(session, now=inp.now, limit=inp.limit)
            await session.commit()
        return BatchResult(processed=count)

    @activity.defn(name="ledger.release_expired_holds")
    async def release_expired_holds(self, inp: BatchInput) -> BatchResult:
        """Void holds past their expiry, one transaction each, so one bad hold cannot block the rest."""
        async with self._sessions() as session:
            due = await ledger.due_holds(session, now=inp.now, limit=inp.limit)
        released = failed = 0
        for hold_id in due:
            try:
                async with self._sessions() as session:
                    await ledger.void_hold(session, hold_id, reason="Hold expired", expired=True)
                    await session.commit()
                released += 1
            except AppError as exc:  # resolved meanwhile (posted by an approval): nothing to release
                log.info("hold %s not released: %s", hold_id, exc.message)
                failed += 1
        return BatchResult(processed=released, failed=failed)
