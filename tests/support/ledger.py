"""Helpers for ledger tests: a fresh member with a points account, and the invariants to assert."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import LedgerLot
from services.intake import signups
from services.loyalty import invariants, ledger
from services.members import MemberCreate

FAR_FUTURE = datetime.now(UTC) + timedelta(days=365)


async def new_member(sessions: async_sessionmaker[AsyncSession], timezone: str = "UTC") -> uuid.UUID:
    async with sessions() as session:
        member = await signups.register(
            session,
            MemberCreate(external_id=f"ledger-{uuid.uuid4().hex}", timezone=timezone),
            source="test",
            task_queue="unused",
        )
        session.info.clear()  # the welcome journey's outbox row is not delivered in these tests
        await session.commit()
        return member.id


async def earn(
    sessions: async_sessionmaker[AsyncSession],
    member_id: uuid.UUID,
    points: int,
    *,
    expires_at: datetime = FAR_FUTURE,
    key: str | None = None,
) -> ledger.PostingResult:
    async with sessions() as session:
        result = await ledger.credit(
            session,
            member_id=member_id,
            points=points,
            kind=ledger.TxKind.EARN,
            reason="test earn",
            idempotency_key=key or f"test:{uuid.uuid4()}",
            expires_at=expires_at,
        )
        await session.commit()
        return result


async def spend(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID, points: int, *, key: str | None = None
) -> ledger.PostingResult:
    async with sessions() as session:
        result = await ledger.debit(
            session,
            member_id=member_id,
            points=points,
            kind=ledger.TxKind.SPEND,
            reason="test spend",
            idempotency_key=key or f"test:{uuid.uuid4()}",
        )
        await session.commit()
        return result


async def balance(sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID) -> ledger.Balance:
    async with sessions() as session:
        return await ledger.balance(session, member_id)


async def lots(sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID) -> list[tuple[int, int]]:
    """(amount, remaining) of the member's lots in consumption order."""
    async with sessions() as session:
        rows = await session.execute(
            select(LedgerLot.amount, LedgerLot.remaining)
            .where(
                LedgerLot.account_id
                == select(text("id"))
                .select_from(text("ledger_accounts"))
                .where(text("member_id = :m"))
                .scalar_subquery()
            )
            .order_by(LedgerLot.expires_at, LedgerLot.id),
            {"m": member_id},
        )
        return [(row.amount, row.remaining) for row in rows]


async def assert_ledger_ok(sessions: async_sessionmaker[AsyncSession]) -> invariants.LedgerCheck:
    async with sessions() as session:
        result = await invariants.check(session)
    assert result.ok, result
    return result
