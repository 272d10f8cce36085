"""KPIs about the programme: points, coupons, journeys and messages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, money, ratio

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
                  AND (CAST(:tier AS text) IS NULL OR {TIER_FILTER})
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
                WHERE a.kind = 'member' AND {TIER_FILTER}
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
        liability=money(Decimal(int(balance.posted)) * point_value),
        currency=currency,
        redemption_rate=ratio(redeemed, issued),
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
            WHERE c.issued_at >= :since AND c.issued_at < :until AND {TIER_FILTER}
            GROUP BY t.code ORDER BY issued DESC, t.code
            """
        ),
        period.params(),
    )
    return [CouponStat(row.template, row.issued, row.redeemed, ratio(row.redeemed, row.issued)) for row in rows]


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
                WHERE r.started_at >= :since AND r.started_at < :until AND {TIER_FILTER}
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
        JourneyStat(kind, s["runs"], s["by_status"], s["by_step"], s["converted"], ratio(s["converted"], s["runs"]))
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
            WHERE g.created_at >= :since AND g.created_at < :until AND {TIER_FILTER}
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
