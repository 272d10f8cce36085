"""The dashboard: programme KPIs as server-drawn charts, for a period and optionally one tier."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console import charts, voice
from api.console.auth import ConsoleUser, require
from api.console.render import render
from api.deps import SessionDep, SettingsDep
from core.errors import InvalidInput
from services.analytics import kpis
from services.journeys import pending
from services.platform import outbox, taskqueues
from services.segments import rfm

router = APIRouter()
_TIER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _default_start(today: date) -> date:
    """The first day of the month eleven months back: a year of monthly points on the time charts."""
    months = today.year * 12 + today.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1)


def _period(request: Request) -> tuple[kpis.Period, str | None]:
    """The period from the query (`from`, `to`, `tier`), or the last twelve months with the problem shown."""
    today = datetime.now(UTC).date()
    raw_from, raw_to = request.query_params.get("from") or "", request.query_params.get("to") or ""
    tier = request.query_params.get("tier") or None
    try:
        end = date.fromisoformat(raw_to) if raw_to else today
        start = date.fromisoformat(raw_from) if raw_from else _default_start(end)
        if tier is not None and not _TIER.match(tier):
            raise ValueError("unknown tier")
        return kpis.Period.of(start, end, tier), None
    except (ValueError, InvalidInput) as exc:
        message = exc.message if isinstance(exc, InvalidInput) else f"the period or tier is not valid ({exc})"
        return kpis.Period.of(_default_start(today), today, None), message


def _checkout_title(report: kpis.CheckoutReport) -> str:
    """The tile's caption: the chart shows the checkouts, the caption what they moved."""
    paid = ", ".join(f"{v.value:,.2f} {v.currency}" for v in report.value_captured) or "0.00"
    return (
        f"Points at checkout: {report.points_captured:,} points captured ({paid}), "
        f"{report.points_returned:,} returned by refunds"
    )


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request, session: SessionDep, settings: SettingsDep, user: Annotated[ConsoleUser, require("dashboard")]
) -> HTMLResponse:
    period, problem = _period(request)
    tier_report = await kpis.tiers(session, period)
    activity = await kpis.member_activity(session, period)
    purchases = await kpis.purchases(session, period)
    points = await kpis.points(session, period, point_value=settings.kpis.point_value, currency=settings.kpis.currency)
    retention = await kpis.retention(session, period)
    monthly = await kpis.activity_by_month(session, period)
    liability = await kpis.liability_by_month(session, period, point_value=settings.kpis.point_value)
    funnels = await kpis.journey_funnels(session, period)
    groups = await rfm.rfm_summary(session)
    value = await kpis.clv(session, period)
    channels = await kpis.messages(session, period)
    backlog = await outbox.backlog(session)
    not_begun = await pending.not_begun(session)
    queues: taskqueues.TaskQueueReport = await request.app.state.temporal.task_queue_backlog()
    care = await voice.care_section(session, period, user)
    paid = await kpis.paid_plans(session, period)
    ups = [m for m in tier_report.movement if m.direction == "up"]
    downs = [m for m in tier_report.movement if m.direction == "down"]
    checkout = await kpis.checkout_report(session, period)
    figures = [
        (
            "tiers",
            "Members by tier",
            charts.bars([(t.tier, t.members) for t in tier_report.distribution], label="Members by tier"),
        ),
        (
            "tier-movement",
            "Tier movement in the period: "
            f"{sum(m.members for m in ups):,} up, {sum(m.members for m in downs):,} down (reviews' falls)",
            charts.bars(
                [(f"↑ {m.from_tier} → {m.to_tier}", m.members) for m in ups]
                + [(f"↓ {m.from_tier} → {m.to_tier}", m.members) for m in downs],
                label="Tier movement",
            ),
        ),
        (
            "active",
            "Active members per month (bought in the month)",
            charts.line([(m.month, m.active) for m in monthly], label="Active members per month"),
        ),
        (
            "liability",
            f"Points liability at month end ({points.currency})",
            charts.line(
                [(m.month, m.liability) for m in liability], label="Points liability", unit=f" {points.currency}"
            ),
        ),
        (
            "clv",
            f"Customer lifetime value by tier ({points.currency}; all members {value.clv:,.2f})",
            charts.bars([(t.tier, t.clv) for t in value.by_tier], label="CLV by tier"),
        ),
        (
            "messages",
            "Messages in the period by channel and status",
            charts.bars(
                [(f"{c.channel} {status}", n) for c in channels for status, n in sorted(c.by_status.items())],
                label="Messages by channel and status",
            ),
        ),
        (
            "plans",
            f"Paid plans: {paid.paid_members:,} paid members now; new, renewed and churned in the period",
            charts.bars(
                [("new", paid.new), ("renewals", paid.renewals), ("churned", paid.churned)], label="Paid plans"
            ),
        ),
        (
            "checkouts",
            _checkout_title(checkout),
            charts.bars(
                [
                    ("held", checkout.held),
                    ("captured", checkout.captured),
                    ("released", checkout.released),
                    ("timed out", checkout.timed_out),
                ],
                label="Checkouts paying with points",
            ),
        ),
        (
            "rfm",
            "RFM segments (shade: share of revenue)",
            charts.tiles(
                [(g.segment, g.members, g.member_share, g.revenue_share) for g in groups], label="RFM segments"
            ),
        ),
    ]
    wide = [
        (
            "retention",
            "Cohort retention: share of each sign-up month buying N months later",
            charts.heatmap([(c.month, c.members, c.retention) for c in retention.cohorts], label="Cohort retention"),
        ),
    ]
    journey_charts = [
        (
            f.kind,
            charts.bars([(s.step, s.runs) for s in f.steps], label=f"Runs of {f.kind} by step"),
            f.runs,
        )
        for f in funnels
    ]
    return render(
        request,
        "dashboard.html",
        user=user,
        period=period,
        problem=problem,
        activity=activity,
        purchases=purchases,
        points=points,
        figures=figures,
        wide=wide,
        journey_charts=journey_charts,
        tiers=[t.tier for t in tier_report.distribution],
        backlog=backlog,
        not_begun=not_begun,
        queues=queues,
        task_kinds=list(taskqueues.TaskKind),
        care=care,
        duration=voice.duration,
    )
