"""Activities the journey workflow calls; each opens one session and commits at most once."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services import journeys


class MemberFactsInput(BaseModel):
    member_id: str


class MemberFacts(BaseModel):
    exists: bool
    order_count: int
    tier: str | None


class JourneyActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="journey.member_facts")
    async def member_facts(self, inp: MemberFactsInput) -> MemberFacts:
        async with self._sessions() as session:
            facts = await journeys.facts(session, uuid.UUID(inp.member_id))
        return MemberFacts(exists=facts.exists, order_count=facts.order_count, tier=facts.tier)
