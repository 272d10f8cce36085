"""Voice of the customer: the most frequent terms in what members wrote (ticket texts and replies, survey
comments), per category, in English and Chinese, and what to follow up: texts with negative words, and NPS
detractors (0-6) whatever they wrote.

Survey comments are read only for a caller allowed to see them (services.privacy.masking hides
survey_answers.comment from approvers and the shop): for the others the terms and flags come from ticket texts
alone, so no term drawn from a comment reaches them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import Period
from services.analytics.voice.negative import negative_words
from services.analytics.voice.terms import CategoryTerms, TermCount, terms, top_terms
from services.analytics.voice.texts import (
    MAX_TEXTS,
    WINDOW_DAYS,
    SurveyRef,
    VoiceText,
    Window,
    survey_texts,
    ticket_texts,
)

MAX_FLAGGED = 100
EXCERPT = 240
DETRACTOR_MAX = 6  # NPS 0-6


@dataclass(frozen=True)
class Flagged:
    """A text to follow up: where (the ticket, or the survey answer when it was not about one), what it says (an
    excerpt), and why (its negative words; for an NPS detractor, the score, which flags even without words)."""

    source: str
    ticket_id: str | None
    category: str
    status: str
    excerpt: str
    words: list[str]
    at: datetime
    answer: SurveyRef | None = None

    @property
    def detractor(self) -> bool:
        return _detractor(self.answer)


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


def _detractor(answer: SurveyRef | None) -> bool:
    return answer is not None and answer.kind == "nps" and answer.score is not None and answer.score <= DETRACTOR_MAX


def _flag(texts: list[VoiceText]) -> list[Flagged]:
    """Every text with negative words, and every detractor's answer, newest first."""
    flagged = []
    for item in texts:
        words = negative_words(item.text)
        if words or _detractor(item.answer):
            ticket = None if item.ticket_id is None else str(item.ticket_id)
            excerpt = _excerpt(item.text)
            flagged.append(
                Flagged(item.source, ticket, item.category, item.status, excerpt, words, item.at, item.answer)
            )
    return flagged


async def _texts(session: AsyncSession, period: Period, window: Window, *, comments: bool) -> list[VoiceText]:
    """Ticket texts and survey answers of the window merged newest first, at most `window.limit` of them."""
    tickets = await ticket_texts(session, period, window)
    answers = await survey_texts(session, period, window, comments=comments)
    return sorted(tickets + answers, key=lambda t: t.at, reverse=True)[: window.limit]


async def voice(
    session: AsyncSession,
    period: Period,
    *,
    term_limit: int = 10,
    window: Window | None = None,
    comments: bool = False,
) -> VoiceReport:
    """Terms and flags over the period's window, read once (the caller keeps the report for the request).
    `comments` says the caller may see survey comments (masking's decision for its role); without it they are
    not read. A detractor's answer without a comment is flagged but counts as no text."""
    window = window or Window.of(period)
    # One more than the limit tells whether the window held more.
    texts = await _texts(session, period, Window(window.since, window.until, window.limit + 1), comments=comments)
    truncated, texts = len(texts) > window.limit, texts[: window.limit]
    written = [t for t in texts if t.text.strip()]
    counted = await asyncio.to_thread(top_terms, ((t.category, t.text) for t in written), limit=term_limit)
    flagged = _flag(texts)
    return VoiceReport(
        TermsReport(window.since, window.until, len(written), truncated, counted), flagged[:MAX_FLAGGED], len(flagged)
    )


__all__ = [
    "MAX_TEXTS",
    "WINDOW_DAYS",
    "CategoryTerms",
    "Flagged",
    "SurveyRef",
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
