"""A member's referrals as the 360 view and the portal show them: their code and link, who referred them,
and the friends they referred with each one's status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Referral
from services.referrals import codes

RECENT = 20


@dataclass(frozen=True)
class ReferralLine:
    referral_id: uuid.UUID
    member_id: uuid.UUID  # the other member: the friend referred, or the referrer
    status: str
    points: int  # what this member earned by it


@dataclass(frozen=True)
class ReferralSummary:
    code: str
    link: str
    referred_by: ReferralLine | None
    referred: list[ReferralLine] = field(default_factory=list)  # the RECENT latest
    friends_referred: int = 0  # all the friends referred, not only the recent ones listed
    friends_rewarded: int = 0

    @property
    def rewarded(self) -> int:
        return sum(1 for line in self.referred if line.status == "rewarded")


async def summary(session: AsyncSession, member_id: uuid.UUID, *, public_url: str | None = None) -> ReferralSummary:
    """Makes the member's code if they have none yet (the caller commits it with the page)."""
    code = await codes.ensure_code(session, member_id)
    made = (
        await session.execute(
            select(Referral).where(Referral.referrer_id == member_id).order_by(Referral.created_at.desc()).limit(RECENT)
        )
    ).scalars()
    referred = [ReferralLine(r.id, r.referee_id, r.status, r.referrer_points) for r in made]
    own = (await session.execute(select(Referral).where(Referral.referee_id == member_id))).scalar_one_or_none()
    referred_by = ReferralLine(own.id, own.referrer_id, own.status, own.referee_points) if own else None
    counts = (
        await session.execute(
            select(func.count(), func.count().filter(Referral.status == "rewarded")).where(
                Referral.referrer_id == member_id
            )
        )
    ).one()
    link = codes.join_link(code, public_url=public_url)
    return ReferralSummary(code, link, referred_by, referred, friends_referred=counts[0], friends_rewarded=counts[1])
