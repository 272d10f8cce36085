"""A campaign's members by status: the progress counts, the enrolment rate and the member listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Campaign, CampaignMember


@dataclass
class Progress:
    total: int = 0
    pending: int = 0
    enrolled: int = 0
    held_out: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "pending": self.pending,
            "enrolled": self.enrolled,
            "held_out": self.held_out,
            "skipped": dict(self.skipped),
            "failed": self.failed,
            "cancelled": self.cancelled,
        }


async def progress(session: AsyncSession, campaign_id: uuid.UUID) -> Progress:
    """Counts by status (and skip reason), from the status index."""
    rows = await session.execute(
        select(CampaignMember.status, CampaignMember.skip_reason, func.count())
        .where(CampaignMember.campaign_id == campaign_id)
        .group_by(CampaignMember.status, CampaignMember.skip_reason)
    )
    out = Progress()
    for status, reason, count in rows.all():
        out.total += count
        if status == "skipped":
            out.skipped[reason or "unknown"] = out.skipped.get(reason or "unknown", 0) + count
        else:
            setattr(out, status, getattr(out, status) + count)
    return out


def rate(campaign: Campaign, counts: Progress, *, now: datetime | None = None) -> float | None:
    """Members settled (enrolled, skipped or failed) per second since the campaign started enrolling."""
    if campaign.started_at is None:
        return None
    end = campaign.finished_at or now or datetime.now(UTC)
    seconds = (end - campaign.started_at).total_seconds()
    settled = counts.enrolled + sum(counts.skipped.values()) + counts.failed
    return round(settled / seconds, 2) if seconds > 0 else None


async def members_page(
    session: AsyncSession, campaign_id: uuid.UUID, *, status: str | None, after: uuid.UUID | None, limit: int
) -> list[CampaignMember]:
    """By member id, ascending; `after` is the last member id of the previous page."""
    stmt = select(CampaignMember).where(CampaignMember.campaign_id == campaign_id)
    if status:
        stmt = stmt.where(CampaignMember.status == status)
    if after is not None:
        stmt = stmt.where(CampaignMember.member_id > after)
    return list((await session.execute(stmt.order_by(CampaignMember.member_id).limit(limit))).scalars().all())
