"""Voice of the customer: the most frequent terms in what members wrote (ticket texts and replies), per category,
in English and Chinese, and the texts with negative words, flagged for someone to follow up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import Period
from services.analytics.voice.negative import negative_words
from services.analytics.voice.terms import CategoryTerms, TermCount, terms, top_terms
from services.analytics.voice.texts import MAX_TEXTS, WINDOW_DAYS, VoiceText, Window, ticket_texts

MAX_FLAGGED = 100
EXCERPT = 240


@dataclass(frozen=True)
class Flagged:
    """A text with negative words: where to follow it up (the ticket), what it says (an excerpt), and why."""

    source: str
    ticket_id: str
    category: str
    status: str
    excerpt: str
    words: list[str]
    at: datetime


@dataclass(frozen=True)
class TermsReport:
    """The terms of the window's texts (what GET /api/v1/kpis/care/terms answers: counts, never the texts)."""

    since: datetime
    until: datetime
    texts: int
    # True when the window held more texts than were read (the newest `MAX_TEXTS` were).
    truncated: bool
    categories: list[CategoryTerms]


@dataclass(frozen=True)
class VoiceReport:
    terms: TermsReport
    # Newest first, at most MAX_FLAGGED of `flagged_total`.
    flagged: list[Flagged]
    flagged_total: int


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def _flag(texts: list[VoiceText]) -> list[Flagged]:
    """Every text with negative words, newest first."""
    flagged = []
    for item in texts:
        words = negative_words(item.text)
        if words:
            excerpt = _excerpt(item.text)
            flagged.append(
                Flagged(item.source, str(item.ticket_id), item.category, item.status, excerpt, words, item.at)
            )
    return flagged


async def voice(
    session: AsyncSession, period: Period, *, term_limit: int = 10, window: Window | None = None
) -> VoiceReport:
    """Terms and flags over the period's window, read once (the caller keeps the report for the request)."""
    window = window or Window.of(period)
    # One more than the limit tells whether the window held more.
    texts = await ticket_texts(session, period, Window(window.since, window.until, window.limit + 1))
    truncated, texts = len(texts) > window.limit, texts[: window.limit]
    counted = await asyncio.to_thread(top_terms, ((t.category, t.text) for t in texts), limit=term_limit)
    flagged = _flag(texts)
    return VoiceReport(
        TermsReport(window.since, window.until, len(texts), truncated, counted), flagged[:MAX_FLAGGED], len(flagged)
    )


__all__ = [
    "MAX_TEXTS",
    "WINDOW_DAYS",
    "CategoryTerms",
    "Flagged",
    "TermCount",
    "TermsReport",
    "VoiceReport",
    "VoiceText",
    "Window",
    "negative_words",
    "terms",
    "top_terms",
    "voice",
]
