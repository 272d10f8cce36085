"""Monthly series the console's charts draw."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, money

# --- monthly series (console charts) ---------------------------------------------------------------------


def _months(period: Period) -> list[str]:
    """YYYY-MM of every month the period touches, oldest first."""
    months, year, month = [], period.start.year, period.start.month
    while (year, month) <= (period.end.year, period.end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass(frozen=True)
class MonthActivity:
    month: str
    # Members with a completed (not fully refunded) order placed in the month.
    active: int
    # Members who had joined by the month's end.
    members: int


async def activity_by_month(session: AsyncSession, period: Period) -> list[MonthActivity]:
    """Per month of the period: the members who bought in it, and the members who had joined by its end."""
    active = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', o.placed_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
                   count(DISTINCT o.member_id) AS active
            FROM orders o JOIN members m ON m.id = o.member_id
            WHERE o.status <> 'refunded' AND o.placed_at >= :since AND o.placed_at < :until AND {TIER_FILTER}
            GROUP BY 1
            """
        ),
        period.params(),
    )
    by_month = {row.month: int(row.active) for row in active}
    joined = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', m.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, count(*) AS n
            FROM members m WHERE m.created_at < :until AND {TIER_FILTER} GROUP BY 1 ORDER BY 1
            """
        ),
        period.params(),
    )
    joined_by = [(row.month, int(row.n)) for row in joined]
    series = []
    for month in _months(period):
        members = sum(n for joined_month, n in joined_by if joined_month <= month)
        series.append(MonthActivity(month, by_month.get(month, 0), members))
    return series


@dataclass(frozen=True)
class MonthLiability:
    month: str
    # Posted points on member accounts at the month's end (or now, for the current month), and their value.
    outstanding: int
    liability: Decimal


async def liability_by_month(session: AsyncSession, period: Period, *, point_value: Decimal) -> list[MonthLiability]:
    """The outstanding points at the end of each month of the period, from the member accounts' posted
    entries by the time they were written (held points are not spent yet, so they still count)."""
    rows = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', e.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
                   sum(e.amount) AS net
            FROM ledger_entries e
            JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'member'
            JOIN members m ON m.id = a.member_id
            WHERE NOT e.pending AND e.created_at < :until AND {TIER_FILTER}
            GROUP BY 1
            """
        ),
        period.params(),
    )
    net = sorted((row.month, int(row.net)) for row in rows)
    series = []
    for month in _months(period):
        outstanding = sum(amount for entry_month, amount in net if entry_month <= month)
        series.append(MonthLiability(month, outstanding, money(Decimal(outstanding) * point_value)))
    return series


@dataclass(frozen=True)
class StepReach:
    step: str
    runs: int


@dataclass(frozen=True)
class JourneyFunnel:
    kind: str
    runs: int
    steps: list[StepReach]


async def journey_funnels(session: AsyncSession, period: Period) -> list[JourneyFunnel]:
    """Per journey, the runs started in the period that reached each step (from each run's step history),
    steps in the order runs usually reach them."""
    rows = await session.execute(
        text(
            f"""
            WITH reached AS (
                SELECT r.kind, r.run_id, s.entry->>'step' AS step, min(s.position) AS position
                FROM journey_runs r JOIN members m ON m.id = r.member_id
                CROSS JOIN LATERAL jsonb_array_elements(r.steps) WITH ORDINALITY AS s(entry, position)
                WHERE r.started_at >= :since AND r.started_at < :until AND {TIER_FILTER}
                GROUP BY r.kind, r.run_id, s.entry->>'step'
            )
            SELECT kind, step, count(*) AS runs, avg(position) AS position
            FROM reached GROUP BY kind, step ORDER BY kind, avg(position), step
            """
        ),
        period.params(),
    )
    totals = await session.execute(
        text(
            f"""
            SELECT r.kind, count(*) AS runs FROM journey_runs r JOIN members m ON m.id = r.member_id
            WHERE r.started_at >= :since AND r.started_at < :until AND {TIER_FILTER} GROUP BY r.kind
            """
        ),
        period.params(),
    )
    funnels = {row.kind: JourneyFunnel(row.kind, int(row.runs), []) for row in totals}
    for row in rows:
        if row.step is not None and row.kind in funnels:
            funnels[row.kind].steps.append(StepReach(row.step, int(row.runs)))
    return [funnels[kind] for kind in sorted(funnels)]
