"""KPIs about customers: members and tiers, purchases and value, cohort retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import MAX_COHORT_MONTHS, TIER_FILTER, Period, money, ratio

# --- members and tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierCount:
    tier: str
    members: int


@dataclass(frozen=True)
class TierMove:
    from_tier: str
    to_tier: str
    members: int
    direction: str = "up"  # up (an order's upgrade or a review's rise) or down (a review's fall)


@dataclass(frozen=True)
class TierReport:
    distribution: list[TierCount]
    movement: list[TierMove]


async def tiers(session: AsyncSession, period: Period) -> TierReport:
    """Members by current tier (in ladder order), and the tier changes recorded in the period, ups (orders'
    upgrades, reviews' rises) and downs (reviews' falls) apart; an event from before directions were recorded
    is read by the ranks of its two tiers."""
    rows = await session.execute(
        text(
            f"""
            SELECT t.code AS tier, count(m.id) AS members
            FROM tiers t LEFT JOIN members m ON m.tier = t.code AND {TIER_FILTER}
            WHERE CAST(:tier AS text) IS NULL OR t.code = CAST(:tier AS text)
            GROUP BY t.code, t.rank ORDER BY t.rank
            """
        ),
        period.params(),
    )
    distribution = [TierCount(row.tier, row.members) for row in rows]
    moves = await session.execute(
        text(
            f"""
            SELECT e.properties->>'from' AS from_tier, e.properties->>'to' AS to_tier, count(*) AS members,
                   coalesce(e.properties->>'direction',
                            CASE WHEN tf.rank > tt.rank THEN 'down' ELSE 'up' END) AS direction
            FROM member_events e JOIN members m ON m.id = e.member_id
            LEFT JOIN tiers tf ON tf.code = e.properties->>'from'
            LEFT JOIN tiers tt ON tt.code = e.properties->>'to'
            WHERE e.type = 'tier_changed' AND e.occurred_at >= :since AND e.occurred_at < :until AND {TIER_FILTER}
            GROUP BY 1, 2, 4 ORDER BY 4 DESC, 3 DESC, 1, 2
            """
        ),
        period.params(),
    )
    return TierReport(distribution, [TierMove(row.from_tier, row.to_tier, row.members, row.direction) for row in moves])


@dataclass(frozen=True)
class MemberReport:
    total: int
    new: int
    active_30d: int
    active_90d: int


async def member_activity(session: AsyncSession, period: Period) -> MemberReport:
    """Members at the period's end, new ones in it, and those with a completed order in the 30 and 90 days
    before its end."""
    row = (
        await session.execute(
            text(
                f"""
                WITH buyers AS (
                    SELECT o.member_id, max(o.placed_at) AS last_order
                    FROM orders o
                    WHERE o.status <> 'refunded' AND o.placed_at < :until AND o.placed_at >= :until_90d
                    GROUP BY o.member_id
                )
                SELECT
                    count(*) FILTER (WHERE m.created_at < :until) AS total,
                    count(*) FILTER (WHERE m.created_at >= :since AND m.created_at < :until) AS new,
                    count(b.member_id) FILTER (WHERE b.last_order >= :until_30d) AS active_30d,
                    count(b.member_id) AS active_90d
                FROM members m LEFT JOIN buyers b ON b.member_id = m.id
                WHERE {TIER_FILTER}
                """
            ),
            period.params(until_30d=period.until - timedelta(days=30), until_90d=period.until - timedelta(days=90)),
        )
    ).one()
    return MemberReport(row.total, row.new, row.active_30d, row.active_90d)


# --- purchases and value ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseReport:
    orders: int
    revenue: Decimal
    buyers: int
    repeat_buyers: int
    repeat_purchase_rate: Decimal | None
    average_order_value: Decimal | None
    purchase_frequency: Decimal | None


async def purchases(session: AsyncSession, period: Period) -> PurchaseReport:
    """Orders placed in the period (fully refunded ones excluded), revenue net of refunds, the share of buyers
    who bought more than once, average order value and orders per buyer."""
    row = (
        await session.execute(
            text(
                f"""
                WITH per_member AS (
                    SELECT o.member_id, count(*) AS orders, sum(o.amount - o.refunded_amount) AS revenue
                    FROM orders o JOIN members m ON m.id = o.member_id
                    WHERE o.status <> 'refunded' AND o.placed_at >= :since AND o.placed_at < :until AND {TIER_FILTER}
                    GROUP BY o.member_id
                )
                SELECT coalesce(sum(orders), 0) AS orders, coalesce(sum(revenue), 0) AS revenue,
                       count(*) AS buyers, count(*) FILTER (WHERE orders >= 2) AS repeat_buyers
                FROM per_member
                """
            ),
            period.params(),
        )
    ).one()
    orders, revenue = int(row.orders), money(row.revenue)
    return PurchaseReport(
        orders=orders,
        revenue=revenue,
        buyers=row.buyers,
        repeat_buyers=row.repeat_buyers,
        repeat_purchase_rate=ratio(row.repeat_buyers, row.buyers),
        average_order_value=ratio(revenue, orders, "0.01"),
        purchase_frequency=ratio(orders, row.buyers, "0.01"),
    )


@dataclass(frozen=True)
class TierValue:
    tier: str
    members: int
    clv: Decimal
    orders_per_member: Decimal


@dataclass(frozen=True)
class ClvReport:
    members: int
    clv: Decimal
    by_tier: list[TierValue]


async def clv(session: AsyncSession, period: Period) -> ClvReport:
    """Historical customer lifetime value: net revenue per member over all their orders up to the period's end,
    for members who joined by then, overall and per current tier."""
    rows = (
        await session.execute(
            text(
                f"""
                WITH value AS (
                    SELECT m.id, m.tier,
                           coalesce(sum(o.amount - o.refunded_amount), 0) AS revenue, count(o.id) AS orders
                    FROM members m
                    LEFT JOIN orders o ON o.member_id = m.id AND o.status <> 'refunded' AND o.placed_at < :until
                    WHERE m.created_at < :until AND {TIER_FILTER}
                    GROUP BY m.id, m.tier
                )
                SELECT v.tier, count(*) AS members, sum(v.revenue) AS revenue, sum(v.orders) AS orders
                FROM value v JOIN tiers t ON t.code = v.tier
                GROUP BY v.tier, t.rank ORDER BY t.rank
                """
            ),
            period.params(),
        )
    ).all()
    by_tier = [
        TierValue(
            tier=row.tier,
            members=row.members,
            clv=ratio(money(row.revenue), row.members, "0.01") or Decimal("0.00"),
            orders_per_member=ratio(int(row.orders), row.members, "0.01") or Decimal("0.00"),
        )
        for row in rows
    ]
    members = sum(row.members for row in rows)
    revenue = sum((money(row.revenue) for row in rows), Decimal("0"))
    return ClvReport(members, ratio(revenue, members, "0.01") or Decimal("0.00"), by_tier)


# --- cohorts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    month: str  # YYYY-MM of sign-up
    members: int
    # retention[k]: the share of the cohort with a completed order in the k-th month after joining (k=0 is the
    # month they joined), up to the period's end.
    retention: list[Decimal]


@dataclass(frozen=True)
class MonthChurn:
    month: str
    active_before: int
    retained: int
    churn_rate: Decimal | None


@dataclass(frozen=True)
class RetentionReport:
    cohorts: list[Cohort]
    churn: list[MonthChurn] = field(default_factory=list)


async def retention(session: AsyncSession, period: Period) -> RetentionReport:
    """Monthly sign-up cohorts of the period (at most 24) with their retention by month since joining, and the
    monthly churn rate: of the members who bought in one month, the share who did not buy in the next."""
    cohort_rows = (
        await session.execute(
            text(
                f"""
                WITH cohort AS (
                    SELECT m.id, date_trunc('month', m.created_at AT TIME ZONE 'UTC') AS month
                    FROM members m
                    WHERE m.created_at >= :since AND m.created_at < :until AND {TIER_FILTER}
                ),
                activity AS (
                    SELECT DISTINCT o.member_id, date_trunc('month', o.placed_at AT TIME ZONE 'UTC') AS month
                    FROM orders o JOIN cohort c ON c.id = o.member_id
                    WHERE o.status <> 'refunded' AND o.placed_at < :until
                )
                SELECT to_char(c.month, 'YYYY-MM') AS cohort,
                       (SELECT count(*) FROM cohort c2 WHERE c2.month = c.month) AS size,
                       (extract(year FROM age(a.month, c.month)) * 12 + extract(month FROM age(a.month, c.month)))::int
                           AS offset_months,
                       count(DISTINCT a.member_id) AS active
                FROM cohort c LEFT JOIN activity a ON a.member_id = c.id AND a.month >= c.month
                GROUP BY c.month, offset_months
                ORDER BY c.month, offset_months
                """
            ),
            period.params(),
        )
    ).all()
    last_month = period.end.year * 12 + period.end.month
    cohorts: dict[str, Cohort] = {}
    for row in cohort_rows:
        if row.cohort not in cohorts:
            year, month = (int(part) for part in row.cohort.split("-"))
            span = min(MAX_COHORT_MONTHS, last_month - (year * 12 + month) + 1)
            cohorts[row.cohort] = Cohort(row.cohort, row.size, [Decimal("0.0000")] * span)
        cohort = cohorts[row.cohort]
        if row.offset_months is not None and row.offset_months < len(cohort.retention):
            cohort.retention[row.offset_months] = ratio(row.active, row.size) or Decimal("0.0000")
    churn_rows = (
        await session.execute(
            text(
                f"""
                WITH active AS (
                    SELECT DISTINCT o.member_id, date_trunc('month', o.placed_at AT TIME ZONE 'UTC') AS month
                    FROM orders o JOIN members m ON m.id = o.member_id
                    WHERE o.status <> 'refunded' AND o.placed_at >= CAST(:since AS timestamptz) - interval '1 month'
                      AND o.placed_at < :until AND {TIER_FILTER}
                )
                SELECT to_char(prev.month + interval '1 month', 'YYYY-MM') AS month,
                       count(*) AS active_before, count(next.member_id) AS retained
                FROM active prev
                LEFT JOIN active next
                    ON next.member_id = prev.member_id AND next.month = prev.month + interval '1 month'
                WHERE prev.month + interval '1 month'
                        >= date_trunc('month', CAST(:since AS timestamptz) AT TIME ZONE 'UTC')
                  AND prev.month + interval '1 month' < CAST(:until AS timestamptz) AT TIME ZONE 'UTC'
                GROUP BY prev.month ORDER BY prev.month
                """
            ),
            period.params(),
        )
    ).all()
    churn = [
        MonthChurn(
            row.month, row.active_before, row.retained, ratio(row.active_before - row.retained, row.active_before)
        )
        for row in churn_rows
    ]
    return RetentionReport(list(cohorts.values())[-MAX_COHORT_MONTHS:], churn)
