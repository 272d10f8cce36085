"""Service KPIs over the tickets opened in a period: SLA attainment, first-response and resolution times,
tickets per category and priority, and a weekly series for the dashboard's charts.

A ticket counts towards an SLA once that SLA is decided: met when the first staff reply (or the close) came by
its deadline, missed when it came later or the deadline passed without it. A ticket still inside its deadline is
pending and counts in neither share, so a busy Monday does not read as a bad week before its tickets are due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, ratio

# One row per ticket of the period, with its SLA outcomes: true (met), false (missed) or null (pending).
_FACTS = f"""
    WITH facts AS (
        SELECT t.category, t.priority, t.opened_at,
               to_char(date_trunc('week', t.opened_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,
               t.status = 'closed' AS resolved,
               extract(epoch FROM t.first_response_at - t.opened_at) AS response_seconds,
               CASE WHEN t.status = 'closed' THEN extract(epoch FROM t.closed_at - t.opened_at) END
                   AS resolution_seconds,
               CASE WHEN t.first_response_at IS NOT NULL THEN t.first_response_at <= t.first_response_due_at
                    WHEN t.first_response_due_at < :now THEN false END AS response_met,
               CASE WHEN t.status = 'closed' THEN t.closed_at <= t.resolution_due_at
                    WHEN t.resolution_due_at < :now THEN false END AS resolution_met
        FROM tickets t JOIN members m ON m.id = t.member_id
        WHERE t.opened_at >= :since AND t.opened_at < :until AND {TIER_FILTER}
    )
"""
# The figures every grouping reports, over the facts of its group.
_FIGURES = """
    count(*) AS tickets,
    count(*) FILTER (WHERE resolved) AS resolved,
    count(*) FILTER (WHERE response_met) AS response_met,
    count(response_met) AS response_decided,
    count(*) FILTER (WHERE resolution_met) AS resolution_met,
    count(resolution_met) AS resolution_decided
"""


@dataclass(frozen=True)
class Durations:
    """Seconds from opening, over the tickets that have one (null when none has)."""

    median_seconds: int | None
    p90_seconds: int | None


@dataclass(frozen=True)
class SlaGroup:
    """A grouping's tickets and its SLA attainment: the share of decided tickets that met each SLA."""

    key: str
    tickets: int
    resolved: int
    first_response_attainment: Decimal | None
    resolution_attainment: Decimal | None


@dataclass(frozen=True)
class CareReport:
    tickets: int
    resolved: int
    # Tickets whose SLA is decided (met or missed), and how many met it.
    first_response_met: int
    first_response_decided: int
    first_response_attainment: Decimal | None
    resolution_met: int
    resolution_decided: int
    resolution_attainment: Decimal | None
    first_response: Durations
    resolution: Durations
    by_category: list[SlaGroup]
    by_priority: list[SlaGroup]
    # Every week (Monday, UTC) the period touches, oldest first; weeks without tickets have zeros.
    by_week: list[SlaGroup]


def _group(key: str, row: Any) -> SlaGroup:
    return SlaGroup(
        key,
        int(row.tickets),
        int(row.resolved),
        ratio(row.response_met, row.response_decided),
        ratio(row.resolution_met, row.resolution_decided),
    )


def _seconds(value: Any) -> int | None:
    return None if value is None else int(Decimal(value).quantize(Decimal(1)))


async def _grouped(session: AsyncSession, column: str, params: dict[str, Any]) -> list[Any]:
    rows = await session.execute(
        text(f"{_FACTS} SELECT {column} AS key, {_FIGURES} FROM facts GROUP BY 1 ORDER BY 2 DESC, 1"), params
    )
    return list(rows)


async def care(session: AsyncSession, period: Period, *, now: datetime | None = None) -> CareReport:
    """The period's tickets (by the day they opened) and their SLAs, judged at `now` (default: the moment of
    asking). Durations are medians and 90th percentiles (interpolated) in whole seconds."""
    params = period.params(now=now or datetime.now(UTC))
    total = (
        await session.execute(
            text(
                f"""{_FACTS} SELECT {_FIGURES},
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY response_seconds) AS response_median,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY response_seconds) AS response_p90,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds) AS resolution_median,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_seconds) AS resolution_p90
                FROM facts"""
            ),
            params,
        )
    ).one()
    weeks = {row.key: _group(row.key, row) for row in await _grouped(session, "week", params)}
    return CareReport(
        tickets=int(total.tickets),
        resolved=int(total.resolved),
        first_response_met=int(total.response_met),
        first_response_decided=int(total.response_decided),
        first_response_attainment=ratio(total.response_met, total.response_decided),
        resolution_met=int(total.resolution_met),
        resolution_decided=int(total.resolution_decided),
        resolution_attainment=ratio(total.resolution_met, total.resolution_decided),
        first_response=Durations(_seconds(total.response_median), _seconds(total.response_p90)),
        resolution=Durations(_seconds(total.resolution_median), _seconds(total.resolution_p90)),
        by_category=[_group(row.key, row) for row in await _grouped(session, "category", params)],
        by_priority=[_group(row.key, row) for row in await _grouped(session, "priority", params)],
        by_week=[weeks.get(week) or SlaGroup(week, 0, 0, None, None) for week in period.weeks()],
    )
