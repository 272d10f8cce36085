"""Helpers for the challenge tests: a challenge of the test's own (unique code, switched off when the test
ends so no later sign-up joins it), members who joined days ago, events on given days, and what was paid."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from models import Challenge, LedgerAccount, LedgerEntry, LedgerTransaction, MemberBadge, MemberChallenge
from services import challenges
from services.intake import signups
from services.members import MemberCreate
from services.platform import outbox
from services.platform.audit import Actor
from tests.support.helpers import ApiClient, order_body

Sessions = async_sessionmaker[AsyncSession]
TESTER = Actor.system("challenge-test")


def challenge_body(**definition: Any) -> dict[str, Any]:
    """A paused opt-in challenge through the API (paused: no member joins it by accident), with a unique code."""
    return {
        "code": unique_code("api"),
        "active": False,
        "definition": {
            "title_en": "Order twice this month",
            "title_zh_cn": "本月下单两次",
            "enrolment": "opt_in",
            "window": {"kind": "month"},
            "goals": [{"kind": "order_count", "target": "2"}],
            "reward": {"points": 100},
        }
        | definition,
    }


def challenge_form(code: str = "", **overrides: str) -> dict[str, str]:
    """The console's form for a paused "order twice this month" challenge (no CSRF token)."""
    form = {
        "code": code or unique_code("cf"),
        "title_en": "Order twice this month",
        "title_zh_cn": "本月下单两次",
        "enrolment": "window_start",
        "window_kind": "month",
        "window_days": "",
        "window_month": "",
        "goal_order_count": "2",
        "reward_points": "100",
        "badge_code": "",
        "badge_icon": "star",
    }
    return form | overrides


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def unique_code(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def own_challenge(sessions: Sessions, raw: dict[str, Any]) -> AsyncIterator[Challenge]:
    """An active challenge with a unique code; switched off afterwards (a live sign-up challenge would
    join every member later tests create)."""
    async with sessions() as session:
        created = await challenges.create(session, unique_code(), challenges.parse(raw), active=True, actor=TESTER)
        await session.commit()
    try:
        yield created
    finally:
        async with sessions() as session:
            await session.execute(update(Challenge).where(Challenge.id == created.id).values(active=False))
            await session.commit()


async def deliver(sessions: Sessions, client: Client, session: AsyncSession) -> None:
    """Commit the session and deliver the Temporal commands it wrote at once, as the API does."""
    pending = outbox.take_pending_ids(session)
    await session.commit()
    if pending:
        await outbox.dispatch(sessions, client, ids=pending)


async def member_joined(sessions: Sessions, client: Client, task_queue: str, days: float) -> uuid.UUID:
    """A member who signed up `days` ago (so a sign-up challenge's window started then), in UTC."""
    async with sessions() as session:
        member = await signups.register(
            session,
            MemberCreate(external_id=f"chal-{uuid.uuid4().hex}", timezone="UTC"),
            source="test",
            task_queue=task_queue,
            joined_at=days_ago(days),
        )
        member_id = member.id
        await deliver(sessions, client, session)
    return member_id


async def event(shop: ApiClient, member_id: uuid.UUID, kind: str, days: float) -> None:
    body = {"member_id": str(member_id), "type": kind, "occurred_at": days_ago(days).isoformat()}
    response = await shop.post("/api/v1/events", json=body)
    assert response.status_code == 201, response.text


async def order(shop: ApiClient, member_id: uuid.UUID, days: float, amount: str = "99.00") -> None:
    body = order_body(str(member_id), amount=amount, items=[], placed_at=days_ago(days).isoformat())
    response = await shop.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text


async def run_of(sessions: Sessions, challenge_id: uuid.UUID, member_id: uuid.UUID) -> MemberChallenge:
    async with sessions() as session:
        stmt = select(MemberChallenge).where(
            MemberChallenge.challenge_id == challenge_id, MemberChallenge.member_id == member_id
        )
        return (await session.execute(stmt)).scalar_one()


def status_is(*wanted: str) -> Callable[[MemberChallenge], bool]:
    return lambda run: run.status in wanted


async def reward_postings(sessions: Sessions, run_id: uuid.UUID) -> list[int]:
    """The points each ledger transaction of the run's reward moved to the member (one entry expected)."""
    async with sessions() as session:
        stmt = (
            select(LedgerEntry.amount)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(
                LedgerTransaction.idempotency_key.like(f"challenge:{run_id}:%"), LedgerAccount.member_id.is_not(None)
            )
        )
        return list((await session.execute(stmt)).scalars())


async def badges_of(sessions: Sessions, member_id: uuid.UUID) -> list[str]:
    async with sessions() as session:
        stmt = select(MemberBadge.code).where(MemberBadge.member_id == member_id)
        return list((await session.execute(stmt)).scalars())


def values(run: MemberChallenge) -> list[str]:
    return [entry["value"] for entry in run.progress]
