"""The ledger's rules, one by one: idempotency, no overdraft, holds, lots and expiry, clawback debt."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Conflict, NotFound
from devstack.embedded import EmbeddedPostgres
from models import LedgerAccount, LedgerTransaction
from services.loyalty import invariants, ledger
from services.loyalty.ledger import InsufficientPoints
from tests.support.brand import scratch_database
from tests.support.ledger import assert_ledger_ok, balance, earn, lots, new_member, spend

Sessions = async_sessionmaker[AsyncSession]


async def _tx_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one())


async def test_same_key_same_content_replays_and_other_content_conflicts(sessions: Sessions) -> None:
    member = await new_member(sessions)
    first = await earn(sessions, member, 100, key="k-replay-" + str(member))
    again = await earn(sessions, member, 100, key="k-replay-" + str(member))
    assert not first.replayed
    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert (await balance(sessions, member)).posted == 100
    with pytest.raises(Conflict) as caught:
        await earn(sessions, member, 101, key="k-replay-" + str(member))
    assert caught.value.code == "idempotency_conflict"
    assert (await balance(sessions, member)).posted == 100
    await assert_ledger_ok(sessions)


async def test_spend_beyond_available_is_refused_and_writes_nothing(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 50)
    before = await _tx_count(sessions)
    with pytest.raises(InsufficientPoints) as caught:
        await spend(sessions, member, 51)
    assert caught.value.status_code == 409
    assert caught.value.details == {"requested": 51, "available": 50}
    assert await _tx_count(sessions) == before
    assert await balance(sessions, member) == ledger.Balance(posted=50, held=0, debt=0)
    await spend(sessions, member, 50)
    assert (await balance(sessions, member)).available == 0


async def test_unknown_member_is_not_found(sessions: Sessions) -> None:
    with pytest.raises(NotFound):
        await earn(sessions, uuid.uuid4(), 10)


async def test_hold_then_post_spends_once(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 500)
    hold_id = uuid.uuid4()
    async with sessions() as session:
        held = await ledger.hold(
            session, member_id=member, points=300, reason="r", idempotency_key=f"h-{hold_id}", hold_id=hold_id
        )
        await session.commit()
    assert held.balance == ledger.Balance(posted=500, held=300, debt=0)
    with pytest.raises(InsufficientPoints):
        await spend(sessions, member, 201)  # the held points cannot be spent twice
    async with sessions() as session:
        posted = await ledger.post_hold(session, hold_id, reason="approved")
        again = await ledger.post_hold(session, hold_id, reason="approved", idempotency_key="another-key")
        await session.commit()
    assert posted.balance == ledger.Balance(posted=200, held=0, debt=0)
    assert again.replayed
    assert again.transaction_id == posted.transaction_id
    async with sessions() as session:
        with pytest.raises(Conflict) as caught:
            await ledger.void_hold(session, hold_id, reason="too late")
    assert caught.value.code == "hold_posted"
    assert await balance(sessions, member) == ledger.Balance(posted=200, held=0, debt=0)
    await assert_ledger_ok(sessions)


async def test_void_releases_points_back_to_their_lots(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 100)
    hold_id = uuid.uuid4()
    async with sessions() as session:
        await ledger.hold(
            session, member_id=member, points=80, reason="r", idempotency_key=f"h-{hold_id}", hold_id=hold_id
        )
        await session.commit()
    assert await lots(sessions, member) == [(100, 20)]
    async with sessions() as session:
        await ledger.void_hold(session, hold_id, reason="rejected")
        repeat = await ledger.void_hold(session, hold_id, reason="rejected again", expired=True)
        await session.commit()
    assert repeat.replayed
    assert await balance(sessions, member) == ledger.Balance(posted=100, held=0, debt=0)
    assert await lots(sessions, member) == [(100, 100)]
    async with sessions() as session:
        with pytest.raises(Conflict) as caught:
            await ledger.post_hold(session, hold_id, reason="approved after all")
    assert caught.value.code == "hold_voided"
    await assert_ledger_ok(sessions)


async def test_spends_consume_the_oldest_lots_first(sessions: Sessions) -> None:
    member = await new_member(sessions)
    soon = datetime.now(UTC) + timedelta(days=30)
    later = datetime.now(UTC) + timedelta(days=60)
    await earn(sessions, member, 50, expires_at=later)
    await earn(sessions, member, 100, expires_at=soon)
    await spend(sessions, member, 120)
    assert await lots(sessions, member) == [(100, 0), (50, 30)]
    await assert_ledger_ok(sessions)


async def test_lots_expire_exactly_at_their_time_whatever_the_zone(sessions: Sessions) -> None:
    from zoneinfo import ZoneInfo

    member = await new_member(sessions, timezone="Asia/Shanghai")
    # Earned at 10:00 in Shanghai on 1 March; 12 months later is 2026-03-01 10:00 +08:00 = 02:00 UTC.
    earned = datetime(2025, 3, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    from core.timeutil import add_months

    expires = add_months(earned, 12)
    assert expires.astimezone(UTC) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    await earn(sessions, member, 70, expires_at=expires)
    await earn(sessions, member, 30)
    async with sessions() as session:
        assert await ledger.expire_due_lots(session, now=datetime(2026, 3, 1, 1, 59, 59, tzinfo=UTC)) == 0
        await session.commit()
    assert (await balance(sessions, member)).posted == 100
    async with sessions() as session:
        expired = await ledger.expire_due_lots(session, now=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
        await session.commit()
    assert expired >= 1
    assert (await balance(sessions, member)).posted == 30
    async with sessions() as session:
        line = (await ledger.statement(session, member, limit=1))[0]
    assert (line.kind, line.amount, line.balance_after) == ("expire", -70, 30)
    assert "2026-03-01 02:00 UTC" in line.reason
    await assert_ledger_ok(sessions)


async def test_held_points_do_not_expire_and_return_to_a_lot_that_then_expires(sessions: Sessions) -> None:
    member = await new_member(sessions)
    due = datetime.now(UTC) - timedelta(seconds=1)
    await earn(sessions, member, 100, expires_at=due)
    hold_id = uuid.uuid4()
    async with sessions() as session:
        await ledger.hold(
            session, member_id=member, points=60, reason="r", idempotency_key=f"h-{hold_id}", hold_id=hold_id
        )
        await session.commit()
    async with sessions() as session:
        await ledger.expire_due_lots(session, now=datetime.now(UTC))
        await session.commit()
    assert await balance(sessions, member) == ledger.Balance(posted=60, held=60, debt=0)  # 40 expired
    async with sessions() as session:
        await ledger.void_hold(session, hold_id, reason="rejected")
        await session.commit()
    assert (await balance(sessions, member)).available == 60
    async with sessions() as session:
        await ledger.expire_due_lots(session, now=datetime.now(UTC))
        await session.commit()
    assert await balance(sessions, member) == ledger.Balance(posted=0, held=0, debt=0)
    await assert_ledger_ok(sessions)


async def test_clawback_takes_what_is_there_and_records_debt_repaid_by_next_earnings(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 100)
    await spend(sessions, member, 70)
    async with sessions() as session:
        claw = await ledger.clawback(
            session,
            member_id=member,
            points=100,
            reason="refund",
            reference=("t", "1"),
            idempotency_key=f"claw-{member}",
        )
        await session.commit()
    assert (claw.amount, claw.shortfall) == (30, 70)
    assert claw.balance == ledger.Balance(posted=0, held=0, debt=70)
    repaid = await earn(sessions, member, 50)
    assert repaid.balance == ledger.Balance(posted=0, held=0, debt=20)
    settled = await earn(sessions, member, 50)
    assert settled.balance == ledger.Balance(posted=30, held=0, debt=0)
    assert await lots(sessions, member) == [(100, 0), (30, 30)]
    result = await assert_ledger_ok(sessions)
    assert result.posted_sum == 0


async def test_ledger_check_reports_exact_figures_and_finds_a_broken_balance(postgres: EmbeddedPostgres) -> None:
    """On a ledger of its own (a fresh database), so every figure is exact: one earn of 10 and one hold of 3
    are two transactions of two entries each; then a member account whose cached balance drifts from its
    entries is reported by id, and the check is no longer ok."""
    db = await scratch_database(postgres, "ledger")
    try:
        member = await new_member(db.sessions)
        await earn(db.sessions, member, 10)
        async with db.sessions() as session:
            await ledger.hold(
                session, member_id=member, points=3, reason="r", idempotency_key=f"h-{member}", hold_id=uuid.uuid4()
            )
            await session.commit()
        result = await assert_ledger_ok(db.sessions)
        figures = (result.transactions, result.entries, result.outstanding_points, result.held_points)
        assert figures == (2, 4, 7, 3)
        assert (result.posted_sum, result.pending_sum, result.debt_points) == (0, 0, 0)
        assert (result.unbalanced_transactions, result.mismatched_accounts, result.lot_mismatches) == (0, [], 0)
        async with db.sessions() as session:
            drifted = (
                await session.execute(
                    update(LedgerAccount)
                    .where(LedgerAccount.member_id == member)
                    .values(posted=LedgerAccount.posted + 1)
                    .returning(LedgerAccount.id)
                )
            ).scalar_one()
            await session.commit()
            broken = await invariants.check(session)
        assert not broken.ok
        assert [(row["id"], row["posted"], row["entries_posted"]) for row in broken.mismatched_accounts] == [
            (drifted, 11, 10)
        ]
    finally:
        await db.engine.dispose()


async def test_hundred_concurrent_spends_of_ten_on_a_hundred_exactly_ten_succeed(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 100)

    async def attempt() -> bool:
        try:
            await spend(sessions, member, 10)
        except InsufficientPoints:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(100)))
    assert outcomes.count(True) == 10
    assert await balance(sessions, member) == ledger.Balance(posted=0, held=0, debt=0)
    await assert_ledger_ok(sessions)


async def test_concurrent_holds_and_spends_never_overdraw(sessions: Sessions) -> None:
    member = await new_member(sessions)
    await earn(sessions, member, 1000)

    async def hold_some(n: int) -> bool:
        try:
            async with sessions() as session:
                await ledger.hold(
                    session,
                    member_id=member,
                    points=70,
                    reason="r",
                    idempotency_key=f"ch-{member}-{n}",
                    hold_id=uuid.uuid4(),
                )
                await session.commit()
        except InsufficientPoints:
            return False
        return True

    async def spend_some() -> bool:
        try:
            await spend(sessions, member, 30)
        except InsufficientPoints:
            return False
        return True

    outcomes = await asyncio.gather(*(hold_some(n) if n % 2 else spend_some() for n in range(60)))
    holds = sum(1 for n, ok in enumerate(outcomes) if ok and n % 2)
    spends = sum(1 for n, ok in enumerate(outcomes) if ok and not n % 2)
    final = await balance(sessions, member)
    assert (final.posted, final.held) == (1000 - 30 * spends, 70 * holds)
    # 3,000 points were asked for out of 1,000, so some were refused; available only ever goes down, so each
    # refusal means too little was left for it at the end as well: every point that could be taken was taken.
    assert 0 <= final.available == 1000 - 30 * spends - 70 * holds
    refused_holds, refused_spends = 30 - holds, 30 - spends
    assert refused_holds + refused_spends > 0
    if refused_spends:
        assert final.available < 30
    if refused_holds:
        assert final.available < 70
    await assert_ledger_ok(sessions)


async def test_stand_alone_postings_on_an_autocommit_connection(sessions: Sessions, engine: object) -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from core.db import autocommit

    assert isinstance(engine, AsyncEngine)
    member = await new_member(sessions)
    key = f"auto-{member}"
    async with autocommit(engine).connect() as connection:
        first = await ledger.credit(
            connection,
            member_id=member,
            points=40,
            kind=ledger.TxKind.EARN,
            reason="auto",
            idempotency_key=key,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        again = await ledger.credit(
            connection,
            member_id=member,
            points=40,
            kind=ledger.TxKind.EARN,
            reason="auto",
            idempotency_key=key,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        with pytest.raises(InsufficientPoints) as caught:
            await ledger.debit(
                connection,
                member_id=member,
                points=41,
                kind=ledger.TxKind.SPEND,
                reason="auto",
                idempotency_key=f"{key}-spend",
            )
        with pytest.raises(Conflict) as conflict:
            await ledger.credit(
                connection,
                member_id=member,
                points=41,
                kind=ledger.TxKind.EARN,
                reason="auto",
                idempotency_key=key,
                expires_at=datetime.now(UTC),
            )
        spent = await ledger.debit(
            connection,
            member_id=member,
            points=15,
            kind=ledger.TxKind.SPEND,
            reason="auto",
            idempotency_key=f"{key}-spend-ok",
        )
    assert (first.replayed, again.replayed, again.transaction_id) == (False, True, first.transaction_id)
    assert caught.value.details == {"requested": 41, "available": 40}
    assert conflict.value.code == "idempotency_conflict"
    assert spent.balance == ledger.Balance(posted=25, held=0, debt=0)
    # Each statement committed on its own: another session sees it, and the refused ones left nothing.
    assert await balance(sessions, member) == ledger.Balance(posted=25, held=0, debt=0)
    await assert_ledger_ok(sessions)
