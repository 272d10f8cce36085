"""When a member's points expire, date by date: the schedule the 360 view and the portal show, and the lots
the daily scan warns about (`points_expiring`).

A lot expires at an instant (its earn time plus the term); a member reads it as a day of their own calendar,
so both group lots by the date in the member's time zone. `remaining` is what is left of a lot after spends
and holds, which consume the oldest first: what will really expire, not what was earned."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Dates listed before "and N more": a member with a lot per order could have hundreds.
SCHEDULE_ROWS = 24


def zone_of(name: str) -> ZoneInfo:
    """The member's time zone; UTC for a name this machine does not know (members are validated on write, but
    an old row must not break a page or a scan)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class ExpiryDate:
    expires_on: date
    points: int


@dataclass(frozen=True)
class ExpirySchedule:
    """Every future expiry of a member's points: the first `SCHEDULE_ROWS` dates, and what lies beyond."""

    dates: list[ExpiryDate]
    total: int  # all points that will expire, the dates beyond the list included
    more_dates: int  # dates not listed
    more_points: int  # points expiring on those dates


def schedule_of(rows: list[tuple[datetime, int]], zone: ZoneInfo, *, limit: int = SCHEDULE_ROWS) -> ExpirySchedule:
    """Group (expires_at, points) rows by the date in `zone`, earliest first."""
    by_date: dict[date, int] = defaultdict(int)
    for expires_at, points in rows:
        by_date[expires_at.astimezone(zone).date()] += points
    ordered = [ExpiryDate(day, points) for day, points in sorted(by_date.items()) if points > 0]
    shown, rest = ordered[:limit], ordered[limit:]
    return ExpirySchedule(
        dates=shown,
        total=sum(row.points for row in ordered),
        more_dates=len(rest),
        more_points=sum(row.points for row in rest),
    )


_FUTURE_LOTS = text(
    "SELECT l.expires_at, sum(l.remaining) AS points FROM ledger_lots l "
    "JOIN ledger_accounts a ON a.id = l.account_id "
    "WHERE a.member_id = :member AND l.remaining > 0 AND l.expires_at > :now "
    "GROUP BY l.expires_at"
)


async def schedule(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    zone: ZoneInfo,
    now: datetime | None = None,
    limit: int = SCHEDULE_ROWS,
) -> ExpirySchedule:
    """The member's upcoming expiries (lots not yet due), by date in `zone`, the first `limit` dates listed."""
    at = now or datetime.now(UTC)
    rows = await session.execute(_FUTURE_LOTS, {"member": member_id, "now": at})
    return schedule_of([(row.expires_at, int(row.points)) for row in rows], zone, limit=limit)


@dataclass(frozen=True)
class DueExpiry:
    """Points of one member expiring on one date of their calendar."""

    member_id: uuid.UUID
    expires_on: date
    points: int


# Lots in a UTC window wide enough for every time zone (UTC-12 to UTC+14) to hold the local date asked for.
_LOTS_AROUND = text(
    "SELECT a.member_id, m.timezone, l.expires_at, sum(l.remaining) AS points FROM ledger_lots l "
    "JOIN ledger_accounts a ON a.id = l.account_id JOIN members m ON m.id = a.member_id "
    "WHERE l.remaining > 0 AND l.expires_at >= :low AND l.expires_at < :high AND m.erased_at IS NULL "
    "GROUP BY a.member_id, m.timezone, l.expires_at ORDER BY a.member_id"
)


async def due_on(session: AsyncSession, day: date) -> list[DueExpiry]:
    """Each member's points expiring on `day` of their own calendar, what is left of the lots after spends and
    holds; members whose lots that day are used up are not listed. Ordered by member id."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    rows = await session.execute(_LOTS_AROUND, {"low": start - timedelta(days=1), "high": start + timedelta(days=2)})
    totals: dict[uuid.UUID, int] = {}
    for row in rows:
        if row.expires_at.astimezone(zone_of(row.timezone)).date() == day:
            totals[row.member_id] = totals.get(row.member_id, 0) + int(row.points)
    return [DueExpiry(member_id, day, points) for member_id, points in totals.items() if points > 0]
