"""Helpers for the rules tests: events to post, and members scoped by a fresh tag so a test's rules fire for them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Coupon, LedgerTransaction, Member, RuleFiring, StaffTask, TemporalOutbox
from services import members
from services.loyalty import ledger
from tests.support.helpers import ApiClient, new_member_id

Sessions = async_sessionmaker[AsyncSession]


def new_scope() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def scoped(scope: str, *more: dict[str, Any]) -> dict[str, Any]:
    """A condition that holds only for members carrying the test's tag (and `more`)."""
    return {"all": [{"field": "tags", "op": "contains", "value": scope}, *more]}


def rule_body(scope: str, name: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name or f"r_{uuid.uuid4().hex[:12]}",
        "trigger": {"event": "checked_in"},
        "conditions": scoped(scope),
        "actions": [{"grant_points": {"points": 7}}],
    }
    body.update(overrides)
    return body


def event_body(member_id: str, kind: str, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "type": kind, "occurred_at": (at or datetime.now(UTC)).isoformat(), **extra}


async def post_event(shop: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await shop.post("/api/v1/events", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_rule(client: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/rules", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def scoped_member(client: ApiClient, sessions: Sessions, scope: str, **overrides: Any) -> str:
    member_id = await new_member_id(client, **overrides)
    async with sessions() as session:
        await members.change_tags(session, uuid.UUID(member_id), add=[scope], remove=[])
        await session.commit()
    return member_id


async def posted(sessions: Sessions, member_id: str) -> int:
    async with sessions() as session:
        return (await ledger.balance(session, uuid.UUID(member_id))).posted


async def tags(sessions: Sessions, member_id: str) -> list[str]:
    async with sessions() as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return list(member.tags)


async def firings(sessions: Sessions, rule_id: str, member_id: str | None = None) -> list[RuleFiring]:
    async with sessions() as session:
        stmt = select(RuleFiring).where(RuleFiring.rule_id == uuid.UUID(rule_id)).order_by(RuleFiring.id)
        if member_id:
            stmt = stmt.where(RuleFiring.member_id == uuid.UUID(member_id))
        return list((await session.execute(stmt)).scalars().all())


async def footprint(sessions: Sessions, member_id: str) -> dict[str, Any]:
    """Everything a rule could change for a member, to prove that a dry run changed nothing."""
    member = uuid.UUID(member_id)
    async with sessions() as session:
        row = await session.get(Member, member)
        assert row is not None
        counts = {
            name: (await session.execute(select(func.count()).select_from(model).where(column == member))).scalar_one()
            for name, model, column in (
                ("coupons", Coupon, Coupon.member_id),
                ("tasks", StaffTask, StaffTask.member_id),
                ("firings", RuleFiring, RuleFiring.member_id),
            )
        }
        transactions = (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
        outbox = (await session.execute(select(func.count()).select_from(TemporalOutbox))).scalar_one()
        balance = await ledger.balance(session, member)
    return {
        "tags": list(row.tags),
        "posted": balance.posted,
        "transactions": transactions,
        "outbox": outbox,
        **counts,
    }
