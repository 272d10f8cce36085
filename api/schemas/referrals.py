"""A member's referrals as the member API shows them (in the 360): their code and join link, who referred
them, and how many friends they referred and were rewarded for."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from services.referrals import ReferralSummary


class MemberReferralOut(BaseModel):
    code: str
    link: str  # the portal's join page with the code, on the public address messages use
    referred_by: uuid.UUID | None  # the member who referred this one; null when they joined on their own
    friends_referred: int  # friends who joined with the code, whatever became of them
    friends_rewarded: int  # of those, the ones whose first order earned both members the reward

    @classmethod
    def of(cls, summary: ReferralSummary | None) -> MemberReferralOut | None:
        if summary is None:
            return None
        return cls(
            code=summary.code,
            link=summary.link,
            referred_by=summary.referred_by.member_id if summary.referred_by else None,
            friends_referred=summary.friends_referred,
            friends_rewarded=summary.friends_rewarded,
        )
