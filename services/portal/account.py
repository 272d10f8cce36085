"""What the portal shows a signed-in member, and the one thing it lets them change (consent per channel).

Every function takes the session's member id and reads or writes only that member's rows: the portal never
takes a member id from the request, so no page can show another member's data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from models import Member, Tier
from services import members
from services.loyalty import expiries, ledger, tier_policy, tiers
from services.messaging.templates import Channel
from services.platform import audit
from services.platform.audit import Actor
from services.rewards import coupons
from services.rewards.coupons import CouponView

CONSENT_SOURCE = "portal"
HOME_ACTIVITY = 5
HISTORY_PAGE = 20


@dataclass(frozen=True)
class TierProgress:
    current: Tier
    following: Tier | None  # None at the top of the ladder
    lifetime_spend: Decimal
    # What is still to spend to pass the next tier's threshold (a spend strictly above it reaches it).
    to_spend: Decimal | None
    percent: int  # 0-100 of the way from this tier's threshold to the next


@dataclass(frozen=True)
class Home:
    member: Member
    progress: TierProgress
    available: int
    next_expiry: tuple[datetime, int] | None  # when and how many points expire next
    activity: list[ledger.LedgerLine]
    expiries: expiries.ExpirySchedule  # every future expiry, by date in the member's zone


def tier_progress(ladder: list[Tier], member: Member, figure: Decimal | None = None) -> TierProgress:
    """The member's place on the ladder by their tier (which may be above what the figure alone buys).
    `figure` is the ladder's basis (services.loyalty.tier_policy): lifetime spend when not given."""
    figure = member.lifetime_spend if figure is None else figure
    current = tiers.find(ladder, member.tier) or tiers.tier_for(ladder, member.lifetime_spend)
    higher = [tier for tier in ladder if tier.rank > current.rank]
    following = higher[0] if higher else None
    if following is None:
        return TierProgress(current, None, figure, None, 100)
    to_spend = max(Decimal("0"), following.min_spend_exclusive - figure)
    span = following.min_spend_exclusive - current.min_spend_exclusive
    done = figure - current.min_spend_exclusive
    percent = int(max(Decimal(0), min(Decimal(100), done * 100 / span))) if span > 0 else 0
    return TierProgress(current, following, figure, to_spend, percent)


async def qualifying_figure(session: AsyncSession, member: Member) -> Decimal:
    """The member's figure on the ladder's basis today: lifetime spend, or the window ending today."""
    policy = tier_policy.as_input(await tier_policy.get(session))
    window = tier_policy.window_ending(policy, member.id, datetime.now(UTC).date())
    return (await tier_policy.figures(session, policy, [window])).get(member.id, Decimal(0))


async def home(session: AsyncSession, member_id: uuid.UUID) -> Home:
    member = await members.get(session, member_id)
    expiring = await ledger.expiring(session, member_id, limit=1)
    return Home(
        member=member,
        progress=tier_progress(await tiers.ladder(session), member, await qualifying_figure(session, member)),
        available=(await ledger.balance(session, member_id)).available,
        next_expiry=expiring[0] if expiring else None,
        activity=await ledger.statement(session, member_id, limit=HOME_ACTIVITY),
        expiries=await expiries.schedule(session, member_id, zone=expiries.zone_of(member.timezone)),
    )


async def expiry_schedule(session: AsyncSession, member_id: uuid.UUID) -> expiries.ExpirySchedule:
    """When the member's points expire, date by date in their time zone (the points page)."""
    member = await members.get(session, member_id)
    return await expiries.schedule(session, member_id, zone=expiries.zone_of(member.timezone))


@dataclass(frozen=True)
class HistoryPage:
    lines: list[ledger.LedgerLine]
    # The entry id to continue before, or None on the last page.
    next_before: int | None


async def history(session: AsyncSession, member_id: uuid.UUID, *, before: int | None) -> HistoryPage:
    """The member's ledger entries, newest first, a page at a time."""
    lines = await ledger.statement(session, member_id, limit=HISTORY_PAGE + 1, after=before)
    more = len(lines) > HISTORY_PAGE
    lines = lines[:HISTORY_PAGE]
    return HistoryPage(lines, lines[-1].entry_id if more and lines else None)


async def wallet(session: AsyncSession, member_id: uuid.UUID) -> list[CouponView]:
    return await coupons.list_member_coupons(session, member_id)


async def coupon(session: AsyncSession, member_id: uuid.UUID, coupon_id: uuid.UUID) -> CouponView:
    """One of the member's coupons; NotFound for any other (another member's looks like no coupon at all)."""
    found = [view for view in await coupons.list_member_coupons(session, member_id) if view.coupon.id == coupon_id]
    if not found:
        raise NotFound("there is no such coupon in your wallet", code="coupon_not_found")
    return found[0]


async def set_consent(
    session: AsyncSession, member_id: uuid.UUID, wanted: dict[Channel, bool], *, now: datetime
) -> list[Channel]:
    """Record the member's consent per channel where it changes, with source `portal`; the channels changed."""
    member = await members.get(session, member_id, for_update=True)
    changed: list[Channel] = []
    for channel, value in wanted.items():
        if getattr(member, f"consent_{channel}") == value:
            continue
        setattr(member, f"consent_{channel}", value)
        setattr(member, f"consent_{channel}_at", now)
        setattr(member, f"consent_{channel}_source", CONSENT_SOURCE)
        changed.append(channel)
    if changed:
        await session.flush()
        await audit.record(
            session,
            Actor.member(member_id),
            action="member.consent",
            target_type="member",
            target_id=str(member_id),
            details={str(channel): wanted[channel] for channel in changed},
        )
    return changed
