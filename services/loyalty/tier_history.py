"""The tier history: every change of a member's tier (an upgrade at an order, a review's rise or fall) with
its reason, written once per key so a retried order or review records it once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import Member, MemberEvent, Tier, TierChange


@dataclass(frozen=True)
class Change:
    """A change to record: from `old` to `new`, why, and what caused it (an order, or a review date)."""

    old: str
    new: str
    direction: str  # up, down
    reason: str
    reference_type: str  # order, review
    reference_id: str
    occurred_at: datetime
    key: str
    review_on: date | None = None


async def record(session: AsyncSession, member: Member, change: Change) -> bool:
    """Record the change and move the member to the new tier (the caller holds the member's row lock); False,
    and nothing changes, when this key was recorded before."""
    inserted = (
        await session.execute(
            insert(TierChange)
            .values(
                id=uuid7(),
                member_id=member.id,
                old_tier=change.old,
                new_tier=change.new,
                direction=change.direction,
                reason=change.reason[:500],
                reference_type=change.reference_type,
                reference_id=change.reference_id,
                review_on=change.review_on,
                idempotency_key=change.key,
                occurred_at=change.occurred_at,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(TierChange.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return False
    member.tier = change.new
    member.tier_since = change.occurred_at
    return True


async def history(session: AsyncSession, member_id: uuid.UUID, *, limit: int = 50) -> list[TierChange]:
    """The member's tier changes, newest first."""
    stmt = (
        select(TierChange)
        .where(TierChange.member_id == member_id)
        .order_by(TierChange.occurred_at.desc(), TierChange.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def at_risk_notice(session: AsyncSession, member: Member) -> dict[str, str]:
    """What a message about the member's latest `tier_at_risk` notice shows (`tier_review.*` in templates):
    the tier and its name, what it would become, the amount still needed and the review date; empty values
    when there is none."""
    properties = (
        await session.execute(
            select(MemberEvent.properties)
            .where(MemberEvent.member_id == member.id, MemberEvent.type == "tier_at_risk")
            .order_by(MemberEvent.occurred_at.desc(), MemberEvent.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none() or {}
    names: dict[str, str] = dict((await session.execute(select(Tier.code, Tier.name))).tuples().all())
    tier, would_become = str(properties.get("tier", "")), str(properties.get("would_become", ""))
    return {
        "tier": tier,
        "tier_name": names.get(tier, tier),
        "would_become": would_become,
        "would_become_name": names.get(would_become, would_become),
        "amount_needed": str(properties.get("amount_needed", "")),
        "review_on": str(properties.get("review_on", "")),
    }
