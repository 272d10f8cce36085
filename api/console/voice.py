"""Voice of the customer in the console: the dashboard's service section (SLA attainment, response and resolution
times, tickets per week, category and priority, NPS and CSAT per week and per tier, the most frequent terms) and
the follow-up list of texts with negative words and of detractors' answers, for the staff who work tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from api.console import charts
from api.console.auth import ConsoleUser, require
from api.console.render import render
from api.deps import SessionDep
from core.errors import InvalidInput
from services.analytics import kpis, voice
from services.privacy.masking import Shown

router = APIRouter()
_SOURCE_COLUMN = {
    "ticket": ("tickets", "description"),
    "reply": ("ticket_events", "body"),
    "survey": ("survey_answers", "comment"),
}


def duration(seconds: int | None) -> str:
    """A median or p90 as people read it: 45m, 3h 20m, 2d 4h."""
    if seconds is None:
        return "–"
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


@dataclass(frozen=True)
class CareSection:
    report: kpis.CareReport
    voice: voice.VoiceReport
    surveys: kpis.SurveyReport
    figures: list[tuple[str, str, Markup]]
    terms: list[tuple[str, str, Markup]]
    # Whether survey comments were read (the user's role may see them).
    comments: bool


def sees_comments(user: ConsoleUser) -> bool:
    """Whether survey comments (and the terms drawn from them) may reach this user: masking's word for the role."""
    return user.masked_view.shown("survey_answers", "comment") is Shown.FULL


def _percent(share: Any) -> int:
    return round(float(share) * 100)


def _figures(report: kpis.CareReport) -> list[tuple[str, str, Markup]]:
    weeks = report.by_week
    attained = [(w.key, _percent(w.resolution_attainment)) for w in weeks if w.resolution_attainment is not None]
    return [
        (
            "care-weekly",
            "Tickets opened per week",
            charts.line([(w.key, w.tickets) for w in weeks], label="Tickets opened per week"),
        ),
        (
            "care-sla-weekly",
            "Resolved within SLA per week (% of decided tickets)",
            charts.line(attained, label="Resolution SLA attainment per week", unit="%"),
        ),
        (
            "care-categories",
            "Tickets per category",
            charts.bars([(g.key, g.tickets) for g in report.by_category], label="Tickets per category"),
        ),
        (
            "care-priorities",
            "Tickets per priority",
            charts.bars([(g.key, g.tickets) for g in report.by_priority], label="Tickets per priority"),
        ),
    ]


def _score_figures(report: kpis.SurveyReport) -> list[tuple[str, str, Markup]]:
    """NPS on its own -100..100 scale per week and tier; CSAT as the satisfied share, weeks without answers left
    out of the line."""
    csat_weeks = [(w.key, _percent(w.csat.score)) for w in report.by_week if w.csat.score is not None]
    return [
        (
            "nps-weekly",
            "NPS per week (promoters − detractors, % of NPS answers)",
            charts.signed_columns([(w.key, w.nps.score) for w in report.by_week], label="NPS per week"),
        ),
        (
            "nps-tiers",
            "NPS per tier (members' current tier)",
            charts.signed_bars([(t.key, t.nps.score) for t in report.by_tier], label="NPS per tier"),
        ),
        (
            "csat-weekly",
            "CSAT per week (% of answers 4–5)",
            charts.line(csat_weeks, label="CSAT per week", unit="%"),
        ),
        (
            "csat-tiers",
            "CSAT per tier (% of answers 4–5)",
            charts.bars(
                [(t.key, _percent(t.csat.score)) for t in report.by_tier if t.csat.score is not None],
                label="CSAT per tier",
            ),
        ),
    ]


def _term_charts(terms: voice.TermsReport) -> list[tuple[str, str, Markup]]:
    language = {"en": "English", "zh": "Chinese"}
    return [
        (
            f"terms-{c.category}-{c.language}",
            f"{c.category} · {language[c.language]} · {c.texts:,} text{'' if c.texts == 1 else 's'}",
            charts.bars(
                [(t.term, t.count) for t in c.terms], label=f"Most frequent terms in {c.category} ({c.language})"
            ),
        )
        for c in terms.categories
    ]


async def care_section(session: SessionDep, period: kpis.Period, user: ConsoleUser) -> CareSection:
    """Everything the dashboard's service section draws, read once for the request."""
    report = await kpis.care(session, period)
    scores = await kpis.surveys(session, period)
    comments = sees_comments(user)
    heard = await voice.voice(session, period, comments=comments)
    figures = _figures(report) + _score_figures(scores)
    return CareSection(report, heard, scores, figures, _term_charts(heard.terms), comments)


def _shown(user: ConsoleUser, item: voice.Flagged) -> str:
    table, column = _SOURCE_COLUMN[item.source]
    return str(user.masked_view.apply(table, column, item.excerpt) or "–")


def _follow_up_period(request: Request) -> tuple[kpis.Period, str | None]:
    """Up to `to` (default today): the window is its last days. A date that does not parse shows the default."""
    raw = request.query_params.get("to") or ""
    try:
        return kpis.Period.of(None, date.fromisoformat(raw) if raw else None, None), None
    except (ValueError, InvalidInput) as exc:
        message = exc.message if isinstance(exc, InvalidInput) else f"the date is not valid ({exc})"
        return kpis.Period.of(None, None, None), message


@router.get("/tickets/follow-up", response_class=HTMLResponse)
async def follow_up(
    request: Request, session: SessionDep, user: Annotated[ConsoleUser, require("tickets")]
) -> HTMLResponse:
    """Texts of the window with negative words and detractors' answers, newest first, each with a link to its
    ticket (or, for an answer not about a ticket, to the member who gave it)."""
    period, problem = _follow_up_period(request)
    heard = await voice.voice(session, period, comments=sees_comments(user))
    rows = [(item, _shown(user, item)) for item in heard.flagged]
    return render(
        request,
        "follow_up.html",
        user=user,
        rows=rows,
        total=heard.flagged_total,
        window=heard.terms,
        period=period,
        problem=problem,
    )
