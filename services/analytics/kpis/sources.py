"""Sign-ups per source: where the period's new members came from (members.source, the registration link's
channel or store code; `direct` for the registration page without one; `api` for members from the API or an
import, who have no source)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period

NO_SOURCE = "api"


@dataclass(frozen=True)
class SourceCount:
    source: str
    members: int


async def signups_by_source(session: AsyncSession, period: Period) -> list[SourceCount]:
    """New members of the period by source, most first (then by code)."""
    rows = await session.execute(
        text(
            f"""
            SELECT coalesce(m.source, '{NO_SOURCE}') AS source, count(*) AS members
            FROM members m
            WHERE m.created_at >= :since AND m.created_at < :until AND m.erased_at IS NULL AND {TIER_FILTER}
            GROUP BY 1 ORDER BY 2 DESC, 1
            """
        ),
        period.params(),
    )
    return [SourceCount(row.source, row.members) for row in rows]
