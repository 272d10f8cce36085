"""The monthly KPI series the console's charts draw (services/analytics/kpis/), against a small brand of its own in a
database of its own, so every figure is known."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devstack.embedded import EmbeddedPostgres
from services import journeys
from services.analytics import kpis
from services.analytics.kpis import Period
from services.loyalty import ledger
from tests.support.brand import at as _at
from tests.support.brand import joined_member, placed_order, scratch_database

Sessions = async_sessionmaker[AsyncSession]
SPRING = Period(date(2026, 3, 1), date(2026, 5, 31))


async def _member(session: AsyncSession, joined: date) -> uuid.UUID:
    return await joined_member(session, joined, label="ck")


async def _order(session: AsyncSession, member_id: uuid.UUID, day: date, amount: str) -> None:
    await placed_order(session, member_id, day, amount, label="ck")


async def _backdate(session: AsyncSession, transaction_id: int, day: date) -> None:
    # The ledger is append-only (a trigger refuses updates); this private database lets the test write history
    # as if it had happened months ago by skipping triggers for this one statement.
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(
        text("UPDATE ledger_entries SET created_at = :at WHERE transaction_id = :tx"),
        {"at": _at(day), "tx": transaction_id},
    )
    await session.execute(text("SET LOCAL session_replication_role = origin"))


@pytest_asyncio.fixture(scope="module")
async def brand(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[Sessions, dict[str, uuid.UUID]]]:
    """A joins 10 March and buys 15 March and 1 May; B joins 2 April, buys 20 May. Points written by hand and
    back-dated: A +1,000 in March, B +500 in April, A -300 in May, and a 200-point hold of B's in May."""
    db = await scratch_database(postgres, "ck")
    name, sessions = db.name, db.sessions
    async with sessions() as session:
        ids = {"a": await _member(session, date(2026, 3, 10)), "b": await _member(session, date(2026, 4, 2))}
        await _order(session, ids["a"], date(2026, 3, 15), "100.00")
        await _order(session, ids["a"], date(2026, 5, 1), "200.00")
        await _order(session, ids["b"], date(2026, 5, 20), "50.00")
        # The orders' own points are written now (this month): outside the spring period's months.
        expiry = datetime(2030, 1, 1, tzinfo=UTC)
        credit = {"kind": ledger.TxKind.ADJUST, "reason": "test", "expires_at": expiry}
        a_in = await ledger.credit(session, member_id=ids["a"], points=1000, idempotency_key="ck-a-1", **credit)
        b_in = await ledger.credit(session, member_id=ids["b"], points=500, idempotency_key="ck-b-1", **credit)
        a_out = await ledger.debit(
            session, member_id=ids["a"], points=300, kind=ledger.TxKind.SPEND, reason="test", idempotency_key="ck-a-2"
        )
        b_hold = await ledger.hold(
            session, member_id=ids["b"], points=200, reason="test", idempotency_key="ck-b-2", hold_id=uuid.uuid4()
        )
        for posting, day in (
            (a_in, date(2026, 3, 20)),
            (b_in, date(2026, 4, 3)),
            (a_out, date(2026, 5, 5)),
            (b_hold, date(2026, 5, 6)),
        ):
            await _backdate(session, posting.transaction_id, day)
        for run, steps in (("r1", ["welcome_msg", "story_delay", "brand_story"]), ("r2", ["welcome_msg", "done"])):
            for i, step in enumerate(steps):
                await journeys.record(
                    session,
                    journeys.Progress(
                        run_id=f"{run}-{name}",
                        workflow_id=f"journey-welcome-{run}",
                        member_id=ids["a"] if run == "r1" else ids["b"],
                        kind="welcome",
                        version=1,
                        campaign_id=None,
                        step=step,
                        status="exited" if step == "done" else "running",
                        at=_at(date(2026, 4, 10 + i)),
                    ),
                )
        await session.commit()
    try:
        yield sessions, ids
    finally:
        await db.engine.dispose()


async def test_active_members_per_month(brand: tuple[Sessions, dict[str, uuid.UUID]]) -> None:
    sessions, _ = brand
    async with sessions() as session:
        series = await kpis.activity_by_month(session, SPRING)
        members_only = await kpis.activity_by_month(session, Period(SPRING.start, SPRING.end, "gold"))
    assert [(m.month, m.active, m.members) for m in series] == [
        ("2026-03", 1, 1),
        ("2026-04", 0, 2),
        ("2026-05", 2, 2),
    ]
    assert [(m.active, m.members) for m in members_only] == [(0, 0), (0, 0), (0, 0)]


async def test_liability_at_each_month_end(brand: tuple[Sessions, dict[str, uuid.UUID]]) -> None:
    sessions, _ = brand
    async with sessions() as session:
        series = await kpis.liability_by_month(session, SPRING, point_value=Decimal("0.05"))
        earlier = await kpis.liability_by_month(
            session, Period(date(2026, 1, 1), date(2026, 2, 28)), point_value=Decimal(1)
        )
    # The hold is pending: it lowers what is available, not what is owed.
    assert [(m.month, m.outstanding, m.liability) for m in series] == [
        ("2026-03", 1000, Decimal("50.00")),
        ("2026-04", 1500, Decimal("75.00")),
        ("2026-05", 1200, Decimal("60.00")),
    ]
    assert [(m.month, m.outstanding) for m in earlier] == [("2026-01", 0), ("2026-02", 0)]


async def test_journey_funnel_counts_runs_reaching_each_step(brand: tuple[Sessions, dict[str, uuid.UUID]]) -> None:
    sessions, _ = brand
    async with sessions() as session:
        funnels = await kpis.journey_funnels(session, SPRING)
        march = await kpis.journey_funnels(session, Period(date(2026, 3, 1), date(2026, 3, 31)))
    assert [(f.kind, f.runs) for f in funnels] == [("welcome", 2)]
    assert [(s.step, s.runs) for s in funnels[0].steps] == [
        ("welcome_msg", 2),
        ("done", 1),  # second step of r2, like story_delay of r1: equal places go by name
        ("story_delay", 1),
        ("brand_story", 1),
    ]
    assert march == []
