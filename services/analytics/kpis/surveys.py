"""Survey KPIs over the answers given in a period: NPS and CSAT overall, per week (Monday, UTC) and per tier.

NPS is the share of promoters (9-10) minus the share of detractors (0-6) over the NPS answers, in percentage
points from -100 to 100; CSAT is the share of satisfied answers (4-5) over the CSAT answers. Custom surveys have
no score and count in neither. A member counts in the tier they hold when the question is asked, not the one they
held when they answered: the per-tier figures read "how do today's gold members feel", which is the question a
marketer acts on (a member who answered as silver and has since moved up counts as gold)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period

# One row per scored NPS or CSAT answer of the period, with the member's current tier and the answer's week.
_FACTS = f"""
    WITH facts AS (
        SELECT s.kind, a.score, m.tier,
               to_char(date_trunc('week', a.answered_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week
        FROM survey_answers a
        JOIN surveys s ON s.id = a.survey_id JOIN members m ON m.id = a.member_id
        WHERE a.score IS NOT NULL AND s.kind IN ('nps', 'csat')
          AND a.answered_at >= :since AND a.answered_at < :until AND {TIER_FILTER}
    )
"""
# The figures every grouping reports; NPS and CSAT are computed here, rounded (NPS to 0.1 point, CSAT to 0.0001).
_FIGURES = """
    count(*) FILTER (WHERE f.kind = 'nps') AS nps_answers,
    count(*) FILTER (WHERE f.kind = 'nps' AND f.score >= 9) AS promoters,
    count(*) FILTER (WHERE f.kind = 'nps' AND f.score BETWEEN 7 AND 8) AS passives,
    count(*) FILTER (WHERE f.kind = 'nps' AND f.score <= 6) AS detractors,
    round(100.0 * (count(*) FILTER (WHERE f.kind = 'nps' AND f.score >= 9)
                   - count(*) FILTER (WHERE f.kind = 'nps' AND f.score <= 6))
          / nullif(count(*) FILTER (WHERE f.kind = 'nps'), 0), 1) AS nps,
    count(*) FILTER (WHERE f.kind = 'csat') AS csat_answers,
    count(*) FILTER (WHERE f.kind = 'csat' AND f.score >= 4) AS satisfied,
    round(1.0 * count(*) FILTER (WHERE f.kind = 'csat' AND f.score >= 4)
          / nullif(count(*) FILTER (WHERE f.kind = 'csat'), 0), 4) AS csat
"""


@dataclass(frozen=True)
class Nps:
    """NPS answers and their split; `score` is null when there were none."""

    answers: int
    promoters: int
    passives: int
    detractors: int
    score: Decimal | None


@dataclass(frozen=True)
class Csat:
    """CSAT answers, the satisfied ones (4-5), and their share; `score` is null when there were none."""

    answers: int
    satisfied: int
    score: Decimal | None


@dataclass(frozen=True)
class SurveyGroup:
    key: str
    nps: Nps
    csat: Csat


@dataclass(frozen=True)
class SurveyReport:
    nps: Nps
    csat: Csat
    # Every week (Monday, UTC) the period touches, oldest first; weeks without answers have zeros.
    by_week: list[SurveyGroup]
    # Every tier of the ladder (the period's tier only, when it names one), lowest first.
    by_tier: list[SurveyGroup]


_EMPTY = (Nps(0, 0, 0, 0, None), Csat(0, 0, None))


def _figures(row: Any) -> tuple[Nps, Csat]:
    nps = Nps(int(row.nps_answers), int(row.promoters), int(row.passives), int(row.detractors), row.nps)
    return nps, Csat(int(row.csat_answers), int(row.satisfied), row.csat)


async def surveys(session: AsyncSession, period: Period) -> SurveyReport:
    """The period's scored answers (by the moment they were given), overall, per week and per current tier."""
    params = period.params()
    total = (await session.execute(text(f"{_FACTS} SELECT {_FIGURES} FROM facts f"), params)).one()
    weekly = await session.execute(text(f"{_FACTS} SELECT f.week AS key, {_FIGURES} FROM facts f GROUP BY 1"), params)
    weeks = {row.key: _figures(row) for row in weekly}
    tiered = await session.execute(
        text(
            f"""{_FACTS} SELECT t.code AS key, {_FIGURES}
            FROM tiers t LEFT JOIN facts f ON f.tier = t.code
            WHERE CAST(:tier AS text) IS NULL OR t.code = CAST(:tier AS text)
            GROUP BY t.code, t.rank ORDER BY t.rank, t.code"""
        ),
        params,
    )
    nps, csat = _figures(total)
    return SurveyReport(
        nps=nps,
        csat=csat,
        by_week=[SurveyGroup(week, *weeks.get(week, _EMPTY)) for week in period.weeks()],
        by_tier=[SurveyGroup(row.key, *_figures(row)) for row in tiered],
    )
