"""Referral KPIs over a period: referrals made (referees linked), first orders that started a return window,
conversions (both members rewarded) and cancellations (refunded in the window), and what the rewards cost
(points paid, coupons issued). Each figure counts by its own moment: links by sign-up, conversions and
cancellations by the decision. A tier filter counts only referrers of that tier."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, ratio


@dataclass(frozen=True)
class ReferralReport:
    referrals: int
    qualified: int
    conversions: int
    cancelled: int
    conversion_rate: Decimal | None  # conversions / referrals of the period
    points_cost: int
    coupons_issued: int


_REPORT = text(
    f"""
    SELECT
        count(*) FILTER (WHERE r.created_at >= :since AND r.created_at < :until) AS referrals,
        count(*) FILTER (WHERE r.qualified_at >= :since AND r.qualified_at < :until) AS qualified,
        count(*) FILTER (WHERE r.status = 'rewarded' AND r.decided_at >= :since AND r.decided_at < :until)
            AS conversions,
        count(*) FILTER (WHERE r.status = 'cancelled' AND r.decided_at >= :since AND r.decided_at < :until)
            AS cancelled,
        coalesce(sum(r.referrer_points + r.referee_points)
            FILTER (WHERE r.status = 'rewarded' AND r.decided_at >= :since AND r.decided_at < :until), 0)
            AS points_cost,
        coalesce(sum((r.referrer_coupon_id IS NOT NULL)::int + (r.referee_coupon_id IS NOT NULL)::int)
            FILTER (WHERE r.status = 'rewarded' AND r.decided_at >= :since AND r.decided_at < :until), 0)
            AS coupons_issued
    FROM referrals r
    JOIN members m ON m.id = r.referrer_id
    WHERE {TIER_FILTER}
    """
)


async def referral_report(session: AsyncSession, period: Period) -> ReferralReport:
    row = (await session.execute(_REPORT, period.params())).one()
    return ReferralReport(
        referrals=row.referrals,
        qualified=row.qualified,
        conversions=row.conversions,
        cancelled=row.cancelled,
        conversion_rate=ratio(row.conversions, row.referrals),
        points_cost=int(row.points_cost),
        coupons_issued=int(row.coupons_issued),
    )
