"""The daily check-in: one `checked_in` event per member per local day, through the same intake as the shop's
events, so the built-in `award_checked_in` rule pays its points (once per local day) and any rule or journey
that listens to check-ins reacts. The streak is the run of consecutive local days with a check-in; every
`check_in_streak_days`-th day of a run also credits `check_in_streak_bonus` points under a ledger key of the
member and the day, so a bonus is paid once whatever is retried."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict
from core.settings import PortalSettings, get_settings
from core.timeutil import add_months
from models import MemberEvent
from services import members
from services.intake import events
from services.loyalty import ledger

EVENT = events.EventType.CHECKED_IN.value
STREAK_LOOKBACK_DAYS = 366


@dataclass(frozen=True)
class CheckInState:
    today: date
    checked_in_today: bool
    streak: int  # consecutive days up to today (or up to yesterday, before today's check-in)
    # Check-ins still to make (today's included, if not made yet) until the next streak bonus.
    days_to_bonus: int


@dataclass(frozen=True)
class CheckInResult:
    points: int  # what the check-in rules awarded
    bonus: int  # the streak bonus credited now, or 0
    state: CheckInState


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


async def _days(session: AsyncSession, member_id: uuid.UUID, zone: str, *, now: datetime) -> list[date]:
    """The local days with a check-in in the last year, newest first."""
    day = func.date(func.timezone(zone, MemberEvent.occurred_at))
    rows = await session.execute(
        select(day)
        .where(
            MemberEvent.member_id == member_id,
            MemberEvent.type == EVENT,
            MemberEvent.occurred_at >= now - timedelta(days=STREAK_LOOKBACK_DAYS),
            MemberEvent.occurred_at <= now,
        )
        .group_by(day)
        .order_by(day.desc())
    )
    return list(rows.scalars().all())


def _streak(days: list[date], today: date) -> int:
    """Consecutive days ending today, or ending yesterday when today has no check-in yet."""
    if not days:
        return 0
    expected = today if days[0] == today else today - timedelta(days=1)
    count = 0
    for day in days:
        if day != expected:
            break
        count += 1
        expected -= timedelta(days=1)
    return count


def _state(days: list[date], today: date, settings: PortalSettings) -> CheckInState:
    streak = _streak(days, today)
    done = bool(days) and days[0] == today
    every = settings.check_in_streak_days
    return CheckInState(today, done, streak, every - streak % every)


async def state(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime, settings: PortalSettings
) -> CheckInState:
    member = await members.get(session, member_id)
    zone = _zone(member.timezone)
    days = await _days(session, member_id, str(zone), now=now)
    return _state(days, now.astimezone(zone).date(), settings)


async def check_in(
    session: AsyncSession, member_id: uuid.UUID, *, now: datetime, settings: PortalSettings, task_queue: str
) -> CheckInResult:
    """Today's check-in; Conflict `already_checked_in` when the member (here or through the shop) already
    checked in on this local day. The event's id is the member and the day, so two taps at once record one."""
    member = await members.get_active(session, member_id, for_update=True)
    zone = _zone(member.timezone)
    today = now.astimezone(zone).date()
    days = await _days(session, member_id, str(zone), now=now)
    if days and days[0] == today:
        raise Conflict("you have already checked in today", code="already_checked_in")
    outcome = await events.ingest(
        session,
        events.EventCreate(
            member_id=member_id,
            type=events.EventType.CHECKED_IN,
            occurred_at=now,
            properties={"channel": "portal"},
            event_id=f"portal-check-in:{member_id}:{today.isoformat()}",
        ),
        task_queue=task_queue,
    )
    if outcome.duplicate:
        raise Conflict("you have already checked in today", code="already_checked_in")
    after = _state([today, *days], today, settings)
    bonus = await _streak_bonus(session, member_id, after, now=now, settings=settings)
    return CheckInResult(outcome.points_awarded, bonus, after)


async def _streak_bonus(
    session: AsyncSession, member_id: uuid.UUID, after: CheckInState, *, now: datetime, settings: PortalSettings
) -> int:
    points = settings.check_in_streak_bonus
    if points <= 0 or after.streak % settings.check_in_streak_days != 0:
        return 0
    day = after.today.isoformat()
    await ledger.credit(
        session,
        member_id=member_id,
        points=points,
        kind=ledger.TxKind.EARN,
        reason=f"{after.streak}-day check-in streak",
        idempotency_key=f"check-in-streak:{member_id}:{day}",
        expires_at=add_months(now, get_settings().points.expiry_months),
        reference=("check_in_streak", day),
    )
    return points
