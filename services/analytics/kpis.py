"""Programme insight computed in SQL: members and tiers, purchases, CLV, cohort retention, points, coupons,
journeys and messages. Each function answers for a period (dates inclusive, UTC) and optionally one tier
(the member's current tier)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput

MAX_PERIOD_DAYS = 3 * 366
MAX_COHORT_MONTHS = 24
_TIER = "(CAST(:tier AS text) IS NULL OR m.tier = CAST(:tier AS text))"


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    tier: str | None = None

    @classmethod
    def of(cls, start: date | None, end: date | None, tier: str | None, *, today: date | None = None) -> Period:
        """The last 90 days up to today unless given; a period must run forwards and stay under three years."""
        end = end or today or datetime.now(UTC).date()
        start = start or end - timedelta(days=89)
        if start > end:
            raise InvalidInput(
                "the period starts after it ends",
                code="invalid_period",
                details=[{"field": "query.from", "message": f"must be on or before {end.isoformat()}"}],
            )
        if (end - start).days > MAX_PERIOD_DAYS:
            raise InvalidInput(
                "the period is too long",
                code="invalid_period",
                details=[{"field": "query.from", "message": f"a period spans at most {MAX_PERIOD_DAYS} days"}],
            )
        return cls(start, end, tier or None)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive: the start of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "tier": self.tier, **extra}


def _ratio(part: Decimal | int, whole: Decimal | int, places: str = "0.0001") -> Decimal | None:
    return None if not whole else (Decimal(part) / Decimal(whole)).quantize(Decimal(places))


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


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


@dataclass(frozen=True)
class TierReport:
    distribution: list[TierCount]
    movement: list[TierMove]


async def tiers(session: AsyncSession, period: Period) -> TierReport:
    """Members by current tier (in ladder order), and the tier changes recorded in the period."""
    rows = await session.execute(
        text(
            f"""
            SELECT t.code AS tier, count(m.id) AS members
            FROM tiers t LEFT JOIN members m ON m.tier = t.code AND {_TIER}
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
            SELECT e.properties->>'from' AS from_tier, e.properties->>'to' AS to_tier, count(*) AS members
            FROM member_events e JOIN members m ON m.id = e.member_id
            WHERE e.type = 'tier_changed' AND e.occurred_at >= :since AND e.occurred_at < :until AND {_TIER}
            GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
            """
        ),
        period.params(),
    )
    return TierReport(distribution, [TierMove(row.from_tier, row.to_tier, row.members) for row in moves])


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
                WHERE {_TIER}
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
                    WHERE o.status <> 'refunded' AND o.placed_at >= :since AND o.placed_at < :until AND {_TIER}
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
    orders, revenue = int(row.orders), _money(row.revenue)
    return PurchaseReport(
        orders=orders,
        revenue=revenue,
        buyers=row.buyers,
        repeat_buyers=row.repeat_buyers,
        repeat_purchase_rate=_ratio(row.repeat_buyers, row.buyers),
        average_order_value=_ratio(revenue, orders, "0.01"),
        purchase_frequency=_ratio(orders, row.buyers, "0.01"),
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
                    WHERE m.created_at < :until AND {_TIER}
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
            clv=_ratio(_money(row.revenue), row.members, "0.01") or Decimal("0.00"),
            orders_per_member=_ratio(int(row.orders), row.members, "0.01") or Decimal("0.00"),
        )
        for row in rows
    ]
    members = sum(row.members for row in rows)
    revenue = sum((_money(row.revenue) for row in rows), Decimal("0"))
    return ClvReport(members, _ratio(revenue, members, "0.01") or Decimal("0.00"), by_tier)


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
                    WHERE m.created_at >= :since AND m.created_at < :until AND {_TIER}
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
            cohort.retention[row.offset_months] = _ratio(row.active, row.size) or Decimal("0.0000")
    churn_rows = (
        await session.execute(
            text(
                f"""
                WITH active AS (
                    SELECT DISTINCT o.member_id, date_trunc('month', o.placed_at AT TIME ZONE 'UTC') AS month
                    FROM orders o JOIN members m ON m.id = o.member_id
                    WHERE o.status <> 'refunded' AND o.placed_at >= CAST(:since AS timestamptz) - interval '1 month'
                      AND o.placed_at < :until AND {_TIER}
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
            row.month, row.active_before, row.retained, _ratio(row.active_before - row.retained, row.active_before)
        )
        for row in churn_rows
    ]
    return RetentionReport(list(cohorts.values())[-MAX_COHORT_MONTHS:], churn)


# --- points, coupons, journeys, messages -----------------------------------------------------------------


@dataclass(frozen=True)
class PointsReport:
    issued: int
    redeemed: int
    expired: int
    adjusted: int
    outstanding: int
    held: int
    liability: Decimal
    currency: str
    redemption_rate: Decimal | None


async def points(session: AsyncSession, period: Period, *, point_value: Decimal, currency: str) -> PointsReport:
    """Points moved in the period, read from the system accounts' entries (issued: earned, net of claw-backs;
    redeemed: spent; expired; adjusted: net admin adjustments), and the outstanding balance at the moment of
    asking, valued at `point_value` per point. A tier filter counts only its members' movements."""
    moved = (
        await session.execute(
            text(
                f"""
                SELECT a.code, coalesce(-sum(e.amount), 0) AS points
                FROM ledger_entries e
                JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'system'
                JOIN ledger_transactions t ON t.id = e.transaction_id
                LEFT JOIN members m ON m.id = t.member_id
                WHERE NOT e.pending AND e.created_at >= :since AND e.created_at < :until
                  AND (CAST(:tier AS text) IS NULL OR {_TIER})
                GROUP BY a.code
                """
            ),
            period.params(),
        )
    ).all()
    by_account = {row.code: int(row.points) for row in moved}
    balance = (
        await session.execute(
            text(
                f"""
                SELECT coalesce(sum(a.posted), 0) AS posted, coalesce(sum(a.held), 0) AS held
                FROM ledger_accounts a JOIN members m ON m.id = a.member_id
                WHERE a.kind = 'member' AND {_TIER}
                """
            ),
            period.params(),
        )
    ).one()
    issued = by_account.get("system:issued", 0)
    redeemed = -by_account.get("system:redeemed", 0)
    return PointsReport(
        issued=issued,
        redeemed=redeemed,
        expired=-by_account.get("system:expired", 0),
        adjusted=by_account.get("system:adjustments", 0),
        outstanding=int(balance.posted),
        held=int(balance.held),
        liability=_money(Decimal(int(balance.posted)) * point_value),
        currency=currency,
        redemption_rate=_ratio(redeemed, issued),
    )


@dataclass(frozen=True)
class CouponStat:
    template: str
    issued: int
    redeemed: int
    redeem_rate: Decimal | None


async def coupons(session: AsyncSession, period: Period) -> list[CouponStat]:
    """Per coupon template: coupons issued in the period and how many of those were redeemed."""
    rows = await session.execute(
        text(
            f"""
            SELECT t.code AS template, count(c.id) AS issued, count(c.redeemed_at) AS redeemed
            FROM coupons c JOIN coupon_templates t ON t.id = c.template_id JOIN members m ON m.id = c.member_id
            WHERE c.issued_at >= :since AND c.issued_at < :until AND {_TIER}
            GROUP BY t.code ORDER BY issued DESC, t.code
            """
        ),
        period.params(),
    )
    return [CouponStat(row.template, row.issued, row.redeemed, _ratio(row.redeemed, row.issued)) for row in rows]


@dataclass(frozen=True)
class JourneyStat:
    kind: str
    runs: int
    by_status: dict[str, int]
    by_step: dict[str, int]  # where the running ones are now
    converted: int
    conversion_rate: Decimal | None


async def journeys(session: AsyncSession, period: Period, *, attribution_days: int) -> list[JourneyStat]:
    """Runs started in the period per journey, by status and (running ones) by current step, and how many
    members placed an order within `attribution_days` after their run started."""
    rows = (
        await session.execute(
            text(
                f"""
                SELECT r.kind, r.status, r.current_step,
                       EXISTS (
                           SELECT 1 FROM orders o
                           WHERE o.member_id = r.member_id AND o.status <> 'refunded'
                             AND o.placed_at >= r.started_at
                             AND o.placed_at < r.started_at + make_interval(days => :days)
                       ) AS converted,
                       count(*) AS runs
                FROM journey_runs r JOIN members m ON m.id = r.member_id
                WHERE r.started_at >= :since AND r.started_at < :until AND {_TIER}
                GROUP BY 1, 2, 3, 4
                """
            ),
            period.params(days=attribution_days),
        )
    ).all()
    stats: dict[str, dict[str, Any]] = {}
    for row in rows:
        stat = stats.setdefault(row.kind, {"runs": 0, "by_status": {}, "by_step": {}, "converted": 0})
        stat["runs"] += row.runs
        stat["by_status"][row.status] = stat["by_status"].get(row.status, 0) + row.runs
        if row.status == "running":
            stat["by_step"][row.current_step] = stat["by_step"].get(row.current_step, 0) + row.runs
        if row.converted:
            stat["converted"] += row.runs
    return [
        JourneyStat(kind, s["runs"], s["by_status"], s["by_step"], s["converted"], _ratio(s["converted"], s["runs"]))
        for kind, s in sorted(stats.items())
    ]


@dataclass(frozen=True)
class ChannelStat:
    channel: str
    by_status: dict[str, int]
    suppressed_by_reason: dict[str, int]


async def messages(session: AsyncSession, period: Period) -> list[ChannelStat]:
    """Messages recorded in the period per channel: by status, and suppressions by reason."""
    rows = await session.execute(
        text(
            f"""
            SELECT g.channel, g.status, coalesce(g.reason, '') AS reason, count(*) AS messages
            FROM messages g JOIN members m ON m.id = g.member_id
            WHERE g.created_at >= :since AND g.created_at < :until AND {_TIER}
            GROUP BY 1, 2, 3
            """
        ),
        period.params(),
    )
    stats: dict[str, ChannelStat] = {}
    for row in rows:
        stat = stats.setdefault(row.channel, ChannelStat(row.channel, {}, {}))
        stat.by_status[row.status] = stat.by_status.get(row.status, 0) + row.messages
        if row.status == "suppressed":
            stat.suppressed_by_reason[row.reason or "unknown"] = row.messages
    return [stats[channel] for channel in sorted(stats)]


# --- monthly series (console charts) ---------------------------------------------------------------------


def _months(period: Period) -> list[str]:
    """YYYY-MM of every month the period touches, oldest first."""
    months, year, month = [], period.start.year, period.start.month
    while (year, month) <= (period.end.year, period.end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass(frozen=True)
class MonthActivity:
    month: str
    # Members with a completed (not fully refunded) order placed in the month.
    active: int
    # Members who had joined by the month's end.
    members: int


async def activity_by_month(session: AsyncSession, period: Period) -> list[MonthActivity]:
    """Per month of the period: the members who bought in it, and the members who had joined by its end."""
    active = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', o.placed_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
                   count(DISTINCT o.member_id) AS active
            FROM orders o JOIN members m ON m.id = o.member_id
            WHERE o.status <> 'refunded' AND o.placed_at >= :since AND o.placed_at < :until AND {_TIER}
            GROUP BY 1
            """
        ),
        period.params(),
    )
    by_month = {row.month: int(row.active) for row in active}
    joined = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', m.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, count(*) AS n
            FROM members m WHERE m.created_at < :until AND {_TIER} GROUP BY 1 ORDER BY 1
            """
        ),
        period.params(),
    )
    joined_by = [(row.month, int(row.n)) for row in joined]
    series = []
    for month in _months(period):
        members = sum(n for joined_month, n in joined_by if joined_month <= month)
        series.append(MonthActivity(month, by_month.get(month, 0), members))
    return series


@dataclass(frozen=True)
class MonthLiability:
    month: str
    # Posted points on member accounts at the month's end (or now, for the current month), and their value.
    outstanding: int
    liability: Decimal


async def liability_by_month(session: AsyncSession, period: Period, *, point_value: Decimal) -> list[MonthLiability]:
    """The outstanding points at the end of each month of the period, from the member accounts' posted
    entries by the time they were written (held points are not spent yet, so they still count)."""
    rows = await session.execute(
        text(
            f"""
            SELECT to_char(date_trunc('month', e.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
                   sum(e.amount) AS net
            FROM ledger_entries e
            JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'member'
            JOIN members m ON m.id = a.member_id
            WHERE NOT e.pending AND e.created_at < :until AND {_TIER}
            GROUP BY 1
            """
        ),
        period.params(),
    )
    net = sorted((row.month, int(row.net)) for row in rows)
    series = []
    for month in _months(period):
        outstanding = sum(amount for entry_month, amount in net if entry_month <= month)
        series.append(MonthLiability(month, outstanding, _money(Decimal(outstanding) * point_value)))
    return series


@dataclass(frozen=True)
class StepReach:
    step: str
    runs: int


@dataclass(frozen=True)
class JourneyFunnel:
    kind: str
    runs: int
    steps: list[StepReach]


async def journey_funnels(session: AsyncSession, period: Period) -> list[JourneyFunnel]:
    """Per journey, the runs started in the period that reached each step (from each run's step history),
    steps in the order runs usually reach them."""
    rows = await session.execute(
        text(
            f"""
            WITH reached AS (
                SELECT r.kind, r.run_id, s.entry->>'step' AS step, min(s.position) AS position
                FROM journey_runs r JOIN members m ON m.id = r.member_id
                CROSS JOIN LATERAL jsonb_array_elements(r.steps) WITH ORDINALITY AS s(entry, position)
                WHERE r.started_at >= :since AND r.started_at < :until AND {_TIER}
                GROUP BY r.kind, r.run_id, s.entry->>'step'
            )
            SELECT kind, step, count(*) AS runs, avg(position) AS position
            FROM reached GROUP BY kind, step ORDER BY kind, avg(position), step
            """
        ),
        period.params(),
    )
    totals = await session.execute(
        text(
            f"""
            SELECT r.kind, count(*) AS runs FROM journey_runs r JOIN members m ON m.id = r.member_id
            WHERE r.started_at >= :since AND r.started_at < :until AND {_TIER} GROUP BY r.kind
            """
        ),
        period.params(),
    )
    funnels = {row.kind: JourneyFunnel(row.kind, int(row.runs), []) for row in totals}
    for row in rows:
        if row.step is not None and row.kind in funnels:
            funnels[row.kind].steps.append(StepReach(row.step, int(row.runs)))
    return [funnels[kind] for kind in sorted(funnels)]
