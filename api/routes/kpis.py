"""Insight: programme KPIs over a period (`from`, `to`, dates inclusive) and optionally one tier."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, SettingsDep, require_roles
from api.personal import view_of
from api.schemas.common import ERROR_RESPONSES
from models import ApiKey
from services.analytics import kpis, voice
from services.platform.api_keys import Role
from services.privacy.masking import Shown

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=ERROR_RESPONSES)
InsightKey = Annotated[ApiKey, Depends(require_roles(Role.MARKETER, Role.OPS, Role.APPROVER))]
TIER_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


def _period(
    start: Annotated[
        date | None, Query(alias="from", description="First day (UTC); default 89 days before `to`")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC), inclusive; default today")] = None,
    tier: Annotated[str | None, Query(pattern=TIER_PATTERN, description="Only members of this tier")] = None,
) -> kpis.Period:
    return kpis.Period.of(start, end, tier)


PeriodDep = Annotated[kpis.Period, Depends(_period)]


@router.get("/tiers", response_model=kpis.TierReport, summary="Members by tier, and tier movement in the period")
async def tier_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.TierReport:
    return await kpis.tiers(session, period)


@router.get("/members", response_model=kpis.MemberReport, summary="Total, new, and active (30/90 days) members")
async def member_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.MemberReport:
    return await kpis.member_activity(session, period)


@router.get(
    "/purchases",
    response_model=kpis.PurchaseReport,
    summary="Orders, revenue, repeat-purchase rate, average order value, purchase frequency",
)
async def purchase_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.PurchaseReport:
    return await kpis.purchases(session, period)


@router.get("/clv", response_model=kpis.ClvReport, summary="Historical customer lifetime value, overall and per tier")
async def clv_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.ClvReport:
    return await kpis.clv(session, period)


@router.get("/retention", response_model=kpis.RetentionReport, summary="Monthly cohort retention matrix and churn rate")
async def retention_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.RetentionReport:
    return await kpis.retention(session, period)


@router.get(
    "/points",
    response_model=kpis.PointsReport,
    summary="Points issued, redeemed, expired; outstanding liability and redemption rate",
)
async def points_report(
    period: PeriodDep, session: SessionDep, settings: SettingsDep, _: InsightKey
) -> kpis.PointsReport:
    return await kpis.points(session, period, point_value=settings.kpis.point_value, currency=settings.kpis.currency)


@router.get("/coupons", response_model=list[kpis.CouponStat], summary="Coupons issued and redeemed per template")
async def coupon_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> list[kpis.CouponStat]:
    return await kpis.coupons(session, period)


@router.get(
    "/journeys", response_model=list[kpis.JourneyStat], summary="Journey runs by status and step, and conversion"
)
async def journey_report(
    period: PeriodDep, session: SessionDep, settings: SettingsDep, _: InsightKey
) -> list[kpis.JourneyStat]:
    return await kpis.journeys(session, period, attribution_days=settings.kpis.journey_attribution_days)


@router.get(
    "/messages", response_model=list[kpis.ChannelStat], summary="Messages per channel by status and suppression"
)
async def message_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> list[kpis.ChannelStat]:
    return await kpis.messages(session, period)


@router.get(
    "/sources",
    response_model=list[kpis.SourceCount],
    summary="New members per sign-up source (the registration link's channel or store; `api` for API sign-ups)",
)
async def source_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> list[kpis.SourceCount]:
    return await kpis.signups_by_source(session, period)


@router.get(
    "/referrals",
    response_model=kpis.ReferralReport,
    summary="Referrals made, conversions (both members rewarded), cancellations, and the rewards' cost "
    "(points paid, coupons issued)",
)
async def referral_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.ReferralReport:
    return await kpis.referral_report(session, period)


@router.get(
    "/plans",
    response_model=kpis.PlanReport,
    summary="Paid plans: paid members now; new memberships, renewals and churn (ended without renewal) in the period",
)
async def plan_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.PlanReport:
    return await kpis.paid_plans(session, period)


@router.get(
    "/checkouts",
    response_model=kpis.CheckoutReport,
    summary="Points at checkout: checkouts held, captured, released and timed out in the period, the points "
    "captured and their value at the rate they were held at, and the points refunds gave back",
)
async def checkout_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.CheckoutReport:
    return await kpis.checkout_report(session, period)


@router.get(
    "/care",
    response_model=kpis.CareReport,
    summary="Service tickets opened in the period: SLA attainment, first-response and resolution times "
    "(median, p90), per category, per priority and per week",
)
async def care_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.CareReport:
    return await kpis.care(session, period)


@router.get(
    "/surveys",
    response_model=kpis.SurveyReport,
    summary="NPS (promoters, passives, detractors) and CSAT (satisfied 4-5) of the answers given in the period, "
    "overall, per week and per tier (the member's current tier)",
)
async def survey_report(period: PeriodDep, session: SessionDep, _: InsightKey) -> kpis.SurveyReport:
    return await kpis.surveys(session, period)


@router.get(
    "/care/terms",
    response_model=voice.TermsReport,
    summary="The most frequent terms in ticket texts, member replies and survey comments (for the roles that see "
    "comments) per category, in English and Chinese "
    f"(the period's last {voice.WINDOW_DAYS} days, at most {voice.MAX_TEXTS:,} texts)",
)
async def care_terms(
    period: PeriodDep,
    session: SessionDep,
    key: InsightKey,
    limit: Annotated[int, Query(ge=1, le=50, description="Terms per category and language")] = 10,
) -> voice.TermsReport:
    comments = view_of(key).shown("survey_answers", "comment") is Shown.FULL
    return (await voice.voice(session, period, term_limit=limit, comments=comments)).terms
