"""The tier review's activities: one page of `tier_at_risk` notices, one page of reviews. Each page commits on
its own, then delivers the journey starts it queued; its keys make a retry change nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.intake import tier_review
from services.platform import outbox


class TierPageInput(BaseModel):
    on: date  # the notices: today; the reviews: the decision day (review date + grace days)
    after: str | None = None  # the last member id of the previous page
    limit: int = 500
    task_queue: str


class TierPageResult(BaseModel):
    processed: int
    last_id: str | None = None
    notified: int = 0
    rose: int = 0
    kept: int = 0
    fell: int = 0


class TierActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="tiers.at_risk_page")
    async def at_risk_page(self, inp: TierPageInput) -> TierPageResult:
        return await self._page(tier_review.at_risk_page, inp)

    @activity.defn(name="tiers.review_page")
    async def review_page(self, inp: TierPageInput) -> TierPageResult:
        return await self._page(tier_review.review_page, inp)

    async def _page(self, run: Callable[..., Awaitable[tier_review.PageResult]], inp: TierPageInput) -> TierPageResult:
        after = uuid.UUID(inp.after) if inp.after else None
        async with self._sessions() as session:
            page = await run(session, on=inp.on, after=after, limit=inp.limit, task_queue=inp.task_queue)
            pending = outbox.take_pending_ids(session)
            await session.commit()
        if pending:  # the worker's relay would deliver them; do it now for the ones just written
            await outbox.dispatch(self._sessions, activity.client(), ids=pending)
        return TierPageResult(
            processed=page.processed,
            last_id=str(page.last_id) if page.last_id else None,
            notified=page.notified,
            rose=page.rose,
            kept=page.kept,
            fell=page.fell,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.at_risk_page, self.review_page]
