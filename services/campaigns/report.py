"""Campaign results: enrolled and held-out members, the campaign's messages, conversions within the
attribution window, revenue, and the uplift of the treatment group over the holdout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import CampaignMember, Message, Order
from services.campaigns.counts import progress
from services.campaigns.service import get


@dataclass
class GroupResult:
    members: int
    conversions: int
    revenue: Decimal
    conversion_rate: float | None


@dataclass
class Results:
    enrolled: int
    held_out: int
    messages: dict[str, int]
    treatment: GroupResult
    holdout: GroupResult
    # Treatment conversion rate minus holdout's (percentage points as a fraction), and relative to holdout's.
    uplift: float | None
    relative_uplift: float | None
    attribution_days: int


async def results(session: AsyncSession, campaign_id: uuid.UUID) -> Results:
    """Conversions are members with a completed order placed within `attribution_days` after their enrolment
    (held-out members: after they entered the snapshot); revenue is those orders' amount net of refunds."""
    campaign = await get(session, campaign_id)
    window = timedelta(days=campaign.attribution_days)
    since = case((CampaignMember.held_out, CampaignMember.added_at), else_=CampaignMember.enrolled_at)
    converted = (
        select(
            CampaignMember.member_id,
            CampaignMember.held_out,
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(Order.amount - Order.refunded_amount), 0).label("revenue"),
        )
        .select_from(CampaignMember)
        .join(
            Order,
            (Order.member_id == CampaignMember.member_id)
            & (Order.status != "refunded")
            & (Order.placed_at >= since)
            & (Order.placed_at < since + window),
        )
        .where(CampaignMember.campaign_id == campaign_id, CampaignMember.status.in_(("enrolled", "held_out")))
        .group_by(CampaignMember.member_id, CampaignMember.held_out)
        .subquery()
    )
    by_group = {
        bool(row.held_out): (int(row.conversions), Decimal(row.revenue))
        for row in await session.execute(
            select(
                converted.c.held_out,
                func.count().label("conversions"),
                func.coalesce(func.sum(converted.c.revenue), 0).label("revenue"),
            ).group_by(converted.c.held_out)
        )
    }
    counts = await progress(session, campaign_id)
    messages = {
        str(status): int(count)
        for status, count in await session.execute(
            select(Message.status, func.count()).where(Message.campaign_id == str(campaign_id)).group_by(Message.status)
        )
    }

    def group(size: int, held_out: bool) -> GroupResult:
        conversions, revenue = by_group.get(held_out, (0, Decimal("0")))
        return GroupResult(
            members=size,
            conversions=conversions,
            revenue=revenue.quantize(Decimal("0.01")),
            conversion_rate=conversions / size if size else None,
        )

    treatment, holdout = group(counts.enrolled, False), group(counts.held_out, True)
    uplift = relative = None
    if treatment.conversion_rate is not None and holdout.conversion_rate is not None:
        uplift = treatment.conversion_rate - holdout.conversion_rate
        relative = uplift / holdout.conversion_rate if holdout.conversion_rate else None
    return Results(
        enrolled=counts.enrolled,
        held_out=counts.held_out,
        messages=messages,
        treatment=treatment,
        holdout=holdout,
        uplift=uplift,
        relative_uplift=relative,
        attribution_days=campaign.attribution_days,
    )
