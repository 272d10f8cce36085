"""KPIs of points at checkout over a period: checkouts that held points, and how they ended (captured with an
order, released by the shop, timed out), the points captured and what they paid at the rate they were held at,
and the points refunds of those orders gave back. Each figure counts by its own moment: holds by when they were
placed, outcomes by when they were settled, returns by the refund's time. A tier filter counts only members of
that tier (their current tier)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.kpis.period import TIER_FILTER, Period, money, ratio


@dataclass(frozen=True)
class CheckoutValue:
    """Points captured in one currency and their value (a programme has one currency unless it was changed)."""

    currency: str
    points: int
    value: Decimal


@dataclass(frozen=True)
class CheckoutReport:
    held: int  # checkouts that placed a hold in the period
    points_held: int
    captured: int  # settled in the period by the order they paid for
    released: int  # settled in the period by the shop (abandoned)
    timed_out: int  # settled in the period by their timer
    capture_rate: Decimal | None  # captured / (captured + released + timed out)
    points_captured: int
    value_captured: list[CheckoutValue]
    refunds: int  # refunds in the period that gave checkout points back
    points_returned: int
    net_points: int  # captured minus returned


_SETTLED = """c.resolved_at >= :since AND c.resolved_at < :until"""

_CHECKOUTS = text(
    f"""
    SELECT
        count(*) FILTER (WHERE c.created_at >= :since AND c.created_at < :until) AS held,
        coalesce(sum(c.points) FILTER (WHERE c.created_at >= :since AND c.created_at < :until), 0) AS points_held,
        count(*) FILTER (WHERE c.status = 'captured' AND {_SETTLED}) AS captured,
        count(*) FILTER (WHERE c.status = 'released' AND {_SETTLED}) AS released,
        count(*) FILTER (WHERE c.status = 'expired' AND {_SETTLED}) AS timed_out
    FROM checkouts c
    JOIN members m ON m.id = c.member_id
    WHERE {TIER_FILTER}
    """
)

_CAPTURED_VALUE = text(
    f"""
    SELECT c.currency, sum(c.points) AS points, sum(c.value) AS value
    FROM checkouts c
    JOIN members m ON m.id = c.member_id
    WHERE c.status = 'captured' AND {_SETTLED} AND {TIER_FILTER}
    GROUP BY c.currency
    ORDER BY c.currency
    """
)

_RETURNED = text(
    f"""
    SELECT count(*) AS refunds, coalesce(sum(r.points_returned), 0) AS points
    FROM order_refunds r
    JOIN orders o ON o.id = r.order_id
    JOIN members m ON m.id = o.member_id
    WHERE r.points_returned > 0 AND r.refunded_at >= :since AND r.refunded_at < :until AND {TIER_FILTER}
    """
)


async def checkout_report(session: AsyncSession, period: Period) -> CheckoutReport:
    params = period.params()
    row = (await session.execute(_CHECKOUTS, params)).one()
    values = [
        CheckoutValue(currency=v.currency, points=int(v.points), value=money(v.value))
        for v in (await session.execute(_CAPTURED_VALUE, params)).all()
    ]
    returned = (await session.execute(_RETURNED, params)).one()
    settled = int(row.captured) + int(row.released) + int(row.timed_out)
    points_captured = sum(v.points for v in values)
    return CheckoutReport(
        held=int(row.held),
        points_held=int(row.points_held),
        captured=int(row.captured),
        released=int(row.released),
        timed_out=int(row.timed_out),
        capture_rate=ratio(int(row.captured), settled),
        points_captured=points_captured,
        value_captured=values,
        refunds=int(returned.refunds),
        points_returned=int(returned.points),
        net_points=points_captured - int(returned.points),
    )
