"""The events the calendar brings, found by the daily rule scan: `points_expiring` (N days before points
expire, for each lead of services.loyalty.expiry_reminders: the console's, or the setting's until saved) and
`signup_anniversary` (each year on the day the member signed up, in their time zone; 29 February signups on
the 28th in a common year).

Each is recorded as the member's event and handed to journeys and rules in the scan's transaction, the way
services.care.triggers records a ticket's events. Each occurrence has a key
(`points_expiring:{member}:{date}:{lead}`, `signup_anniversary:{member}:{year}`): the member event's unique key
makes a second scan on the same day, or a retried one, record and trigger nothing. The events carry numbers
and dates only, never personal data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member
from services import journeys, rules
from services.loyalty import expiries
from services.members import events as member_events
from services.members import scans

POINTS_EXPIRING = "points_expiring"
SIGNUP_ANNIVERSARY = "signup_anniversary"


async def _emit(
    session: AsyncSession,
    member: Member,
    trigger: str,
    key: str,
    *,
    at: datetime,
    today: date,
    properties: dict[str, Any],
    task_queue: str,
) -> bool:
    """Record `trigger` for the member and run the journeys and rules it reaches; False when it was recorded
    before (a second scan the same day, a retry)."""
    if not await member_events.record_once(session, member.id, trigger, key, at, properties):
        return False
    facts = {f"event.{name}": value for name, value in properties.items()}
    await journeys.on_event(session, member, trigger, task_queue=task_queue, properties=properties, event_facts=facts)
    await rules.evaluate_event(
        session,
        rules.RuleEvent(trigger, member, key, at, facts=facts, properties=properties, today=today),
        task_queue=task_queue,
    )
    return True


async def _members(session: AsyncSession, ids: list[Any]) -> dict[Any, Member]:
    found = await session.execute(select(Member).where(Member.id.in_(ids), Member.erased_at.is_(None)))
    return {member.id: member for member in found.scalars()}


async def points_expiring(
    session: AsyncSession, *, today: date, leads: list[int], task_queue: str, page_size: int = scans.SCAN_PAGE
) -> int:
    """For each lead, warn every member whose points expire `lead` days from today (their calendar) of how many
    will; returns how many events were recorded now."""
    fired = 0
    at = datetime.combine(today, time(12), tzinfo=UTC)
    for lead in leads:
        due = await expiries.due_on(session, today + timedelta(days=lead))
        for start in range(0, len(due), page_size):
            page = due[start : start + page_size]
            found = await _members(session, [row.member_id for row in page])
            for row in page:
                member = found.get(row.member_id)
                if member is None:
                    continue
                properties = {"points": row.points, "expires_on": row.expires_on.isoformat(), "days_before": lead}
                key = f"{POINTS_EXPIRING}:{member.id}:{row.expires_on.isoformat()}:{lead}"
                fired += await _emit(
                    session,
                    member,
                    POINTS_EXPIRING,
                    key,
                    at=at,
                    today=today,
                    properties=properties,
                    task_queue=task_queue,
                )
    return fired


async def signup_anniversaries(
    session: AsyncSession, *, today: date, task_queue: str, page_size: int = scans.SCAN_PAGE
) -> int:
    """Members whose signup anniversary is today in their time zone, with `years` since; returns how many
    events were recorded now."""
    fired = 0
    at = datetime.combine(today, time(12), tzinfo=UTC)
    async for page in scans.pages_of(session, scans.signed_up_around(today), page_size=page_size):
        for member in page:
            local = member.created_at.astimezone(expiries.zone_of(member.timezone)).date()
            years = scans.signup_years(local, today)
            if years is None:
                continue
            key = f"{SIGNUP_ANNIVERSARY}:{member.id}:{today.year}"
            fired += await _emit(
                session,
                member,
                SIGNUP_ANNIVERSARY,
                key,
                at=at,
                today=today,
                properties={"years": years},
                task_queue=task_queue,
            )
    return fired


async def scan_due(session: AsyncSession, *, today: date, leads: list[int], task_queue: str) -> dict[str, int]:
    """Both calendar events due today; how many of each were recorded by this run."""
    counts: Counter[str] = Counter()
    counts[POINTS_EXPIRING] = await points_expiring(session, today=today, leads=leads, task_queue=task_queue)
    counts[SIGNUP_ANNIVERSARY] = await signup_anniversaries(session, today=today, task_queue=task_queue)
    return dict(counts)
