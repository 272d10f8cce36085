"""RFM on a scratch database (the whole scored population known): quintile edges, filters, previews, summary."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Integer, column, insert, select, table, text, values
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devstack.embedded import EmbeddedPostgres
from services import segments
from services.segments import rfm
from tests.support.brand import scratch_database
from tests.support.segments import TODAY, Population
from tests.support.segments import insert_members as _insert

# Ten buyers: recency and spend rise with the index; order counts tie (six members have one order).
BUYERS = {
    f"p{i}": {
        "last_purchase_at": datetime(2026, 6, 14, 12, tzinfo=UTC) - timedelta(days=100 - 10 * i),
        "order_count": [1, 1, 1, 1, 1, 1, 2, 2, 3, 5][i],
        "lifetime_spend": Decimal(100 * (i + 1)),
    }
    for i in range(10)
}


NEVER = {"n0": {}, "n1": {}}


# (recency, frequency, monetary, segment): quintiles by position; equal order counts share the lowest score.
EXPECTED_SCORES = {
    "p0": (1, 1, 1, "lost"),
    "p1": (1, 1, 1, "lost"),
    "p2": (2, 1, 2, "hibernating"),
    "p3": (2, 1, 2, "hibernating"),
    "p4": (3, 1, 3, "potential_loyalist"),
    "p5": (3, 1, 3, "potential_loyalist"),
    "p6": (4, 4, 4, "loyal"),
    "p7": (4, 4, 4, "loyal"),
    "p8": (5, 5, 5, "champions"),
    "p9": (5, 5, 5, "champions"),
}


@pytest_asyncio.fixture(scope="module")
async def scratch(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], Population]]:
    db = await scratch_database(postgres, "rfm")
    factory = db.sessions
    try:
        async with factory() as session:
            ids = await _insert(session, {**BUYERS, **NEVER}, tag=None)
            await session.commit()
        yield factory, Population("", ids)
    finally:
        await db.engine.dispose()


async def test_rfm_scores_are_quintiles_over_buyers_with_ties_sharing_a_score(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    factory, population = scratch
    async with factory() as session:
        for name, (r, f, m, segment) in EXPECTED_SCORES.items():
            assert await segments.rfm_scores(session, population.ids[name]) == rfm.RfmScores(r, f, m, segment), name
        assert await segments.rfm_scores(session, population.ids["n0"]) is None
        assert await segments.rfm_scores(session, uuid.uuid4()) is None


async def _scratch_match(
    factory: async_sessionmaker[AsyncSession], population: Population, raw: dict[str, Any]
) -> set[str]:
    async with factory() as session:
        found = set((await session.execute(segments.member_query(segments.parse(raw), today=TODAY))).scalars())
    return population.names(found)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"rfm_segment": ["champions"]}, {"p8", "p9"}),
        ({"rfm_segment": ["lost", "hibernating"]}, {"p0", "p1", "p2", "p3"}),
        ({"rfm_segment": ["never_purchased"]}, {"n0", "n1"}),
        ({"rfm": {"frequency": {"gte": 4}}}, {"p6", "p7", "p8", "p9"}),
        ({"rfm": {"recency": {"eq": 3}, "monetary": {"lte": 3}}}, {"p4", "p5"}),
        ({"not": {"rfm": {"frequency": {"gte": 4}}}}, {"p0", "p1", "p2", "p3", "p4", "p5", "n0", "n1"}),
        ({"all": [{"rfm": {"recency": {"gte": 2}}}, {"order_count": {"eq": 1}}]}, {"p2", "p3", "p4", "p5"}),
    ],
)
async def test_rfm_filters(
    scratch: tuple[async_sessionmaker[AsyncSession], Population], raw: dict[str, Any], expected: set[str]
) -> None:
    factory, population = scratch
    assert await _scratch_match(factory, population, raw) == expected


@pytest.mark.parametrize("raw", [{"rfm_segment": ["champions", "loyal"]}, {"order_count": {"gte": 2}}])
async def test_preview_with_rfm_scores(
    scratch: tuple[async_sessionmaker[AsyncSession], Population], raw: dict[str, Any]
) -> None:
    """Both ways a preview runs (RFM in the filter: one statement; otherwise count, then sample + scores)."""
    factory, population = scratch
    definition = segments.parse(raw)
    async with factory() as session:
        full = await segments.preview(session, definition, today=TODAY)
        two = await segments.preview(session, definition, sample=2, today=TODAY)
        counted = await segments.preview(session, definition, sample=0, today=TODAY)
    expected = {population.ids[n] for n in ("p6", "p7", "p8", "p9")}
    assert full.count == two.count == counted.count == 4
    assert [m.id for m in full.sample] == sorted(expected, reverse=True)
    assert [m.id for m in two.sample] == [m.id for m in full.sample[:2]]
    assert counted.sample == []
    for member in full.sample:
        name = population.names({member.id}).pop()
        assert member.rfm == rfm.RfmScores(*EXPECTED_SCORES[name])
        assert member.order_count == BUYERS[name]["order_count"]


async def test_rfm_summary_groups_members_and_revenue(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    factory, _ = scratch
    async with factory() as session:
        summary = {g.segment: g for g in await segments.rfm_summary(session)}
    assert list(summary) == [*rfm.NAMED_SEGMENTS, rfm.NEVER_PURCHASED]
    revenue = {name: (g.members, g.revenue, g.revenue_share, g.member_share) for name, g in summary.items()}
    assert revenue == {
        "champions": (2, Decimal("1900.00"), Decimal("0.3455"), Decimal("0.1667")),
        "loyal": (2, Decimal("1500.00"), Decimal("0.2727"), Decimal("0.1667")),
        "potential_loyalist": (2, Decimal("1100.00"), Decimal("0.2000"), Decimal("0.1667")),
        "new": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "at_risk": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "cant_lose": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "hibernating": (2, Decimal("700.00"), Decimal("0.1273"), Decimal("0.1667")),
        "lost": (2, Decimal("300.00"), Decimal("0.0545"), Decimal("0.1667")),
        "never_purchased": (2, Decimal("0.00"), Decimal("0.0000"), Decimal("0.1667")),
    }


async def test_member_query_feeds_one_insert_select(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    """What a campaign snapshot does: one INSERT ... SELECT from the segment's query, RFM included."""
    factory, population = scratch
    query = segments.member_query(segments.parse({"rfm_segment": ["loyal", "champions"]}), today=TODAY)
    async with factory() as session:
        await session.execute(text("CREATE TEMP TABLE snapshot (member_id uuid PRIMARY KEY) ON COMMIT DROP"))
        target = table("snapshot", column("member_id"))
        inserted = await session.execute(insert(target).from_select(["member_id"], query))
        assert inserted.rowcount == 4
        rows = set((await session.execute(select(target.c.member_id))).scalars())
        await session.rollback()
    assert population.names(rows) == {"p6", "p7", "p8", "p9"}


# The documented mapping (docs/segments.md): for each recency score, F+M ranges and their segment.
SEGMENT_TABLE = {
    5: [(9, 10, "champions"), (7, 8, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "new")],
    4: [(9, 10, "champions"), (7, 8, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "new")],
    3: [(7, 10, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "hibernating")],
    2: [(9, 10, "cant_lose"), (6, 8, "at_risk"), (2, 5, "hibernating")],
    1: [(9, 10, "cant_lose"), (6, 8, "at_risk"), (4, 5, "hibernating"), (2, 3, "lost")],
}


async def test_named_segment_mapping_covers_every_score_as_documented(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    grid = values(column("r", Integer), column("f", Integer), column("m", Integer), name="grid").data(
        [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    )
    async with sessions() as session:
        rows = (
            await session.execute(select(grid.c.r, grid.c.f, grid.c.m, rfm.segment_of(grid.c.r, grid.c.f, grid.c.m)))
        ).all()
    assert len(rows) == 125
    for r, f, m, segment in rows:
        expected = [name for low, high, name in SEGMENT_TABLE[r] if low <= f + m <= high]
        assert [segment] == expected, (r, f, m)
