"""RFM scoring in SQL: recency, frequency and monetary quintiles (1-5) and the named segments built on them.

Only members who have purchased (`last_purchase_at` set) are scored, and the quintiles are over them alone:
a member who never bought has no scores and is in the `never_purchased` group, never in a named segment.
The inputs are the member's own aggregates (last_purchase_at, order_count, lifetime_spend), kept current by
order ingestion and refunds, so scoring reads one table. docs/segments.md has the full definition."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, Subquery, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member

NAMED_SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
NEVER_PURCHASED = "never_purchased"
ALL_GROUPS = (*NAMED_SEGMENTS, NEVER_PURCHASED)


def _quintile(order_by: SQLColumnExpression[Any]) -> ColumnElement[int]:
    """1 + floor(5 * (rank - 1) / n) over the scored members, lowest value first.

    Without ties this is the quintile of the member's position, as NTILE(5) would give it; unlike NTILE, members
    with equal values always share a score (NTILE would split a run of equal order counts across scores by
    an arbitrary order). A tie takes the score of the first position in its run."""
    rank = func.rank().over(order_by=order_by)
    # n as a scalar subquery (one InitPlan) rather than count(*) OVER (), which would buffer every row again.
    buyers = select(func.count()).select_from(Member).where(Member.last_purchase_at.is_not(None)).scalar_subquery()
    return literal(1) + (literal(5) * (rank - 1)) // buyers


def segment_of(recency: ColumnElement[Any], frequency: ColumnElement[Any], monetary: ColumnElement[Any]) -> Any:
    """The named segment from R and F+M (2-10); the first matching line wins (table in docs/segments.md)."""
    fm = frequency + monetary
    return case(
        (and_(recency >= 4, fm >= 9), "champions"),
        (and_(recency >= 3, fm >= 7), "loyal"),
        (and_(recency >= 3, fm >= 4), "potential_loyalist"),
        (recency >= 4, "new"),
        (recency == 3, "hibernating"),
        (fm >= 9, "cant_lose"),
        (fm >= 6, "at_risk"),
        (recency == 2, "hibernating"),
        (fm >= 4, "hibernating"),
        else_="lost",
    )


def scores_subquery(name: str = "rfm") -> Subquery:
    """(member_id, recency, frequency, monetary, segment) for every member who has purchased."""
    raw = (
        select(
            Member.id.label("member_id"),
            _quintile(Member.last_purchase_at).label("recency"),
            _quintile(Member.order_count).label("frequency"),
            _quintile(Member.lifetime_spend).label("monetary"),
        )
        .where(Member.last_purchase_at.is_not(None))
        .subquery(f"{name}_raw")
    )
    return select(
        raw.c.member_id,
        raw.c.recency,
        raw.c.frequency,
        raw.c.monetary,
        segment_of(raw.c.recency, raw.c.frequency, raw.c.monetary).label("segment"),
    ).subquery(name)


@dataclass(frozen=True)
class RfmScores:
    recency: int
    frequency: int
    monetary: int
    segment: str


@dataclass(frozen=True)
class RfmGroup:
    """One named segment (or `never_purchased`): its members and their share of all lifetime spend."""

    segment: str
    members: int
    member_share: Decimal
    revenue: Decimal
    revenue_share: Decimal


async def rfm_scores(session: AsyncSession, member_id: uuid.UUID) -> RfmScores | None:
    """The member's scores, or None if the member never purchased (or does not exist). Quintiles are over all
    purchasing members, so this evaluates the whole ranking: use member_query for many members at once."""
    scores = scores_subquery()
    row = (
        await session.execute(
            select(scores.c.recency, scores.c.frequency, scores.c.monetary, scores.c.segment).where(
                scores.c.member_id == member_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return RfmScores(int(row.recency), int(row.frequency), int(row.monetary), str(row.segment))


def _share(part: Decimal | int, whole: Decimal | int) -> Decimal:
    if not whole:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


async def rfm_summary(session: AsyncSession) -> list[RfmGroup]:
    """Every group in a fixed order (empty ones with zeros): members, revenue (lifetime spend) and shares."""
    scores = scores_subquery()
    group = func.coalesce(scores.c.segment, NEVER_PURCHASED).label("segment")
    rows = (
        await session.execute(
            select(group, func.count().label("members"), func.coalesce(func.sum(Member.lifetime_spend), 0))
            .select_from(Member)
            .outerjoin(scores, scores.c.member_id == Member.id)
            .group_by(group)
        )
    ).all()
    found: dict[str, tuple[int, Decimal]] = {str(r[0]): (int(r[1]), Decimal(r[2])) for r in rows}
    total_members = sum(m for m, _ in found.values())
    total_revenue = sum((rev for _, rev in found.values()), Decimal("0"))
    summary = []
    for name in ALL_GROUPS:
        members, revenue = found.get(name, (0, Decimal("0")))
        summary.append(
            RfmGroup(
                segment=name,
                members=members,
                member_share=_share(members, total_members),
                revenue=revenue.quantize(Decimal("0.01")),
                revenue_share=_share(revenue, total_revenue),
            )
        )
    return summary
