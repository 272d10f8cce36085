"""The texts the voice of the customer reads: each ticket's subject and description, and the members' replies on
tickets, from a bounded window (the last `WINDOW_DAYS` of the period, at most `MAX_TEXTS`, newest first), so the
dashboard stays fast however many tickets a brand has. An erased member's texts are left out: erasure wrote
"[erased]" over them, which is no one's voice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period

WINDOW_DAYS = 90
MAX_TEXTS = 2000


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    limit: int

    @classmethod
    def of(cls, period: Period, *, days: int = WINDOW_DAYS, limit: int = MAX_TEXTS) -> Window:
        """The period's last `days` days (all of it when shorter)."""
        return cls(max(period.since, period.until - timedelta(days=days)), period.until, limit)


@dataclass(frozen=True)
class VoiceText:
    """One text a member wrote: where it came from (ticket: its subject and description; reply: a member's
    reply on it), the ticket's category and status, and when."""

    source: str
    ticket_id: uuid.UUID
    category: str
    status: str
    text: str
    at: datetime


async def ticket_texts(session: AsyncSession, period: Period, window: Window) -> list[VoiceText]:
    """The window's ticket texts and member replies of the period's tier, newest first, at most `window.limit`."""
    rows = await session.execute(
        text(
            f"""
            SELECT * FROM (
                SELECT 'ticket' AS source, t.id AS ticket_id, t.category, t.status,
                       t.subject || E'\\n' || t.description AS body, t.opened_at AS at
                FROM tickets t JOIN members m ON m.id = t.member_id
                WHERE t.opened_at >= :since AND t.opened_at < :until AND m.erased_at IS NULL AND {TIER_FILTER}
                UNION ALL
                SELECT 'reply', t.id, t.category, t.status, e.body, e.created_at
                FROM ticket_events e
                JOIN tickets t ON t.id = e.ticket_id JOIN members m ON m.id = t.member_id
                WHERE e.kind = 'reply' AND e.author_type = 'member' AND e.body IS NOT NULL
                  AND e.created_at >= :since AND e.created_at < :until AND m.erased_at IS NULL AND {TIER_FILTER}
            ) texts
            ORDER BY at DESC, ticket_id, source LIMIT :limit
            """
        ),
        {"since": window.since, "until": window.until, "tier": period.tier, "limit": window.limit},
    )
    return [VoiceText(r.source, r.ticket_id, r.category, r.status, r.body, r.at) for r in rows]
