"""The texts the voice of the customer reads: each ticket's subject and description, the members' replies on
tickets, and survey comments (with the detractors' answers, which a follow-up needs even when silent), from a
bounded window (the last `WINDOW_DAYS` of the period, at most `MAX_TEXTS`, newest first), so the
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
class SurveyRef:
    """The survey answer a text is the comment of: which send, whose, which survey and the score given."""

    send_id: uuid.UUID
    member_id: uuid.UUID
    survey: str
    kind: str
    score: int | None


@dataclass(frozen=True)
class VoiceText:
    """One text a member wrote: where it came from (ticket: its subject and description; reply: a member's
    reply on it; survey: an answer's comment), the ticket's category and status (for a survey answer not asked
    about a ticket: the survey's kind, and "answered"), and when. `answer` is set for survey texts only."""

    source: str
    ticket_id: uuid.UUID | None
    category: str
    status: str
    text: str
    at: datetime
    answer: SurveyRef | None = None


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


async def survey_texts(session: AsyncSession, period: Period, window: Window, *, comments: bool) -> list[VoiceText]:
    """The window's survey answers of the period's tier with a comment, and the NPS detractors' (0-6) with or
    without one, newest first, at most `window.limit`. Without `comments` (a role the comments are hidden from)
    no comment is read at all: the texts are empty and only the detractors come back, for their scores."""
    rows = await session.execute(
        text(
            f"""
            SELECT t.id AS ticket_id, COALESCE(t.category, s.kind) AS category,
                   COALESCE(t.status, 'answered') AS status,
                   CASE WHEN :comments THEN COALESCE(a.comment, '') ELSE '' END AS body, a.answered_at AS at,
                   a.send_id, a.member_id, s.key AS survey, s.kind, a.score
            FROM survey_answers a
            JOIN surveys s ON s.id = a.survey_id JOIN survey_sends d ON d.id = a.send_id
            JOIN members m ON m.id = a.member_id
            LEFT JOIN tickets t ON d.source = 'ticket' AND t.id::text = split_part(d.source_id, ':', 1)
            WHERE a.answered_at >= :since AND a.answered_at < :until AND m.erased_at IS NULL AND {TIER_FILTER}
              AND ((:comments AND btrim(COALESCE(a.comment, '')) <> '') OR (s.kind = 'nps' AND a.score <= 6))
            ORDER BY a.answered_at DESC, a.send_id LIMIT :limit
            """
        ),
        {
            "since": window.since,
            "until": window.until,
            "tier": period.tier,
            "limit": window.limit,
            "comments": comments,
        },
    )
    return [
        VoiceText(
            "survey",
            r.ticket_id,
            r.category,
            r.status,
            r.body,
            r.at,
            SurveyRef(r.send_id, r.member_id, r.survey, r.kind, r.score),
        )
        for r in rows
    ]
