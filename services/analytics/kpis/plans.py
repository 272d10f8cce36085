"""KPIs of the paid plans: paid members now, and per period the new memberships, renewals, churn (memberships
that ended, or were cancelled, without a renewal), the refunds cancellations recorded and what plan orders paid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, money, ratio


@dataclass(frozen=True)
class PlanStat:
    plan: str
    paid_members: int  # active now
    new: int  # started in the period (not continuing an ended membership)
    renewals: int  # terms renewed in the period, before or soon after the end
    churned: int  # ended or cancelled in the period and not renewed (yet)
    cancelled: int  # of the churned, by cancellation
    refunds: Decimal  # owed on the period's cancellations
    paid: Decimal  # what the period's plan orders paid for terms
    renewal_rate: Decimal | None  # renewals / (renewals + churned)


@dataclass(frozen=True)
class PlanReport:
    paid_members: int
    new: int
    renewals: int
    churned: int
    renewal_rate: Decimal | None
    plans: list[PlanStat]


_BY_PLAN = f"""
WITH scoped AS (
  SELECT ms.* FROM memberships ms JOIN members m ON m.id = ms.member_id WHERE {TIER_FILTER}
),
successors AS (SELECT DISTINCT renewed_from_id AS id FROM memberships WHERE renewed_from_id IS NOT NULL)
SELECT p.code,
  (SELECT count(DISTINCT s.member_id) FROM scoped s
    WHERE s.plan_id = p.id AND s.status = 'active' AND s.ends_at > now()) AS paid_members,
  (SELECT count(*) FROM scoped s WHERE s.plan_id = p.id AND s.renewed_from_id IS NULL
    AND s.created_at >= :since AND s.created_at < :until) AS new,
  (SELECT count(*) FROM membership_periods mp JOIN scoped s ON s.id = mp.membership_id
    WHERE s.plan_id = p.id AND mp.kind = 'renewal' AND mp.created_at >= :since AND mp.created_at < :until)
    AS renewals,
  (SELECT count(*) FROM scoped s WHERE s.plan_id = p.id AND s.status IN ('ended', 'cancelled')
    AND s.ended_at >= :since AND s.ended_at < :until AND s.id NOT IN (SELECT id FROM successors)) AS churned,
  (SELECT count(*) FROM scoped s WHERE s.plan_id = p.id AND s.status = 'cancelled'
    AND s.ended_at >= :since AND s.ended_at < :until AND s.id NOT IN (SELECT id FROM successors)) AS cancelled,
  (SELECT coalesce(sum(s.refund_amount), 0) FROM scoped s WHERE s.plan_id = p.id AND s.status = 'cancelled'
    AND s.ended_at >= :since AND s.ended_at < :until) AS refunds,
  (SELECT coalesce(sum(mp.amount), 0) FROM membership_periods mp JOIN scoped s ON s.id = mp.membership_id
    WHERE s.plan_id = p.id AND mp.created_at >= :since AND mp.created_at < :until) AS paid
FROM plans p
ORDER BY p.code
"""


async def paid_plans(session: AsyncSession, period: Period) -> PlanReport:
    """Per plan and in total; a tier filter counts only its members' memberships."""
    rows = (await session.execute(text(_BY_PLAN), period.params())).all()
    stats = [
        PlanStat(
            plan=row.code,
            paid_members=int(row.paid_members),
            new=int(row.new),
            renewals=int(row.renewals),
            churned=int(row.churned),
            cancelled=int(row.cancelled),
            refunds=money(row.refunds),
            paid=money(row.paid),
            renewal_rate=ratio(int(row.renewals), int(row.renewals) + int(row.churned)),
        )
        for row in rows
    ]
    renewals = sum(s.renewals for s in stats)
    churned = sum(s.churned for s in stats)
    return PlanReport(
        paid_members=await _paid_members(session, period),
        new=sum(s.new for s in stats),
        renewals=renewals,
        churned=churned,
        renewal_rate=ratio(renewals, renewals + churned),
        plans=stats,
    )


async def _paid_members(session: AsyncSession, period: Period) -> int:
    """Members with any active plan now (one member with two plans counts once)."""
    stmt = text(
        f"""SELECT count(DISTINCT ms.member_id) FROM memberships ms JOIN members m ON m.id = ms.member_id
        WHERE ms.status = 'active' AND ms.ends_at > now() AND {TIER_FILTER}"""
    )
    return int((await session.execute(stmt, period.params())).scalar_one())
