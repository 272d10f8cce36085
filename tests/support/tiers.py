"""Helpers for tier qualification tests: the policy set for one test (and put back after it: it is one global
row), dated orders, and each member's tier history and tier events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Member, MemberEvent, TierChange
from services.intake import orders, signups
from services.intake.orders import OrderCreate
from services.loyalty import tier_policy
from services.loyalty.tier_policy import TierPolicyIn
from services.members import MemberCreate
from services.members.service import Consent
from services.platform.audit import Actor
from tests.support.helpers import midday_zone, order_body

Sessions = async_sessionmaker[AsyncSession]
SetPolicy = Callable[..., Awaitable[TierPolicyIn]]
TEST_ACTOR = Actor.system("tier-tests")


@pytest_asyncio.fixture
async def set_policy(sessions: Sessions) -> AsyncIterator[SetPolicy]:
    """Set the ladder's policy for this test; the one before is restored afterwards."""
    async with sessions() as session:
        before = tier_policy.as_input(await tier_policy.get(session))

    async def put(**fields: Any) -> TierPolicyIn:
        policy = TierPolicyIn(**fields)
        async with sessions() as session:
            await tier_policy.update(session, policy, actor=TEST_ACTOR)
            await session.commit()
        return policy

    yield put
    async with sessions() as session:
        await tier_policy.update(session, before, actor=TEST_ACTOR)
        await session.commit()


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def days_ago(days: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=days)


async def new_member(sessions: Sessions, *, locale: str = "en") -> str:
    """A member with email consent; the journeys their sign-up would start are not delivered (only what the
    review itself queues reaches the worker)."""
    async with sessions() as session:
        member = await signups.register(
            session,
            MemberCreate(
                external_id=f"tier-{uuid.uuid4().hex}",
                email=f"tier-{uuid.uuid4().hex[:10]}@example.com",
                timezone=midday_zone(),
                locale=locale,
                consent=Consent(email=True),
            ),
            source="test",
            task_queue="unused",
        )
        session.info.clear()
        await session.commit()
        return str(member.id)


async def order(sessions: Sessions, member_id: str, amount: str, day: date) -> None:
    """A completed order placed on `day`, ingested as the shop's would be (its journeys left undelivered)."""
    async with sessions() as session:
        body = order_body(member_id, amount=amount, placed_at=at(day).isoformat(), items=[])
        await orders.ingest(session, OrderCreate.model_validate(body), task_queue="unused")
        session.info.clear()
        await session.commit()


async def history(sessions: Sessions, member_id: str) -> list[dict[str, Any]]:
    """The member's tier changes, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(TierChange)
            .where(TierChange.member_id == uuid.UUID(member_id))
            .order_by(TierChange.occurred_at, TierChange.id)
        )
        return [
            {
                "old": r.old_tier,
                "new": r.new_tier,
                "direction": r.direction,
                "reason": r.reason,
                "reference_type": r.reference_type,
                "review_on": r.review_on,
            }
            for r in rows.scalars()
        ]


async def tier_events(sessions: Sessions, member_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(
            select(MemberEvent.type, MemberEvent.properties)
            .where(
                MemberEvent.member_id == uuid.UUID(member_id),
                MemberEvent.type.in_(("tier_changed", "tier_at_risk")),
            )
            .order_by(MemberEvent.occurred_at, MemberEvent.id)
        )
        return [(t, {k: v for k, v in p.items() if k != "order_id"}) for t, p in rows.all()]


async def tier_of(sessions: Sessions, member_id: str) -> str:
    async with sessions() as session:
        return str((await session.execute(select(Member.tier).where(Member.id == uuid.UUID(member_id)))).scalar_one())
