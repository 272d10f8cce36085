"""Helpers for the calendar's events (points_expiring, signup_anniversary): the daily rule scan run as its
schedule runs it, the events it recorded for a member, and a member with many expiry dates."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.rules import RuleActivities, RuleScanInput, RuleScanResult
from models import MemberEvent
from tests.support.clock import utc_today
from tests.support.ledger import earn, spend
from tests.support.rules import Sessions


async def scan(
    temporal_dev: WorkflowEnvironment, sessions: Sessions, today: date, *, task_queue: str | None = None
) -> RuleScanResult:
    """The rules' daily scan for `today`; the journeys it starts go to `task_queue` (a fresh, idle one unless
    given)."""
    env = ActivityEnvironment(client=temporal_dev.client)
    result: RuleScanResult = await env.run(
        RuleActivities(sessions).daily_scan, RuleScanInput(today=today, task_queue=task_queue or f"tq-{uuid.uuid4()}")
    )
    return result


async def events_of(sessions: Sessions, member_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    """The properties of the member's `kind` events, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(MemberEvent.properties)
            .where(MemberEvent.member_id == member_id, MemberEvent.type == kind)
            .order_by(MemberEvent.created_at, MemberEvent.id)
        )
        return [dict(row) for row in rows.scalars()]


def beyond_the_other_tests() -> date:
    """A date 7000 to 10000 days ahead: past every tests.loyalty.test_expiry_reminders.far_expiry_day (3000 to
    6000), so the scans of the tests using those (which count every member's events) never see lots put here,
    and a test that picks this date checks its own member's events."""
    return utc_today() + timedelta(days=7000 + random.randrange(3000))


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def first_weeks(first: date, start: int, stop: int) -> list[date]:
    return [first + timedelta(weeks=week) for week in range(start, stop)]


async def member_with_26_dates(sessions: Sessions, member: uuid.UUID) -> date:
    """For a Shanghai member: 26 expiry dates of 10 points each from the first, a week apart, two lots on the
    first date (one at 20:00 UTC the day before, the first date in Shanghai), 15 points spent, and a lot already
    due. Returns the first date."""
    first = utc_today() + timedelta(days=20)
    await earn(sessions, member, 5, expires_at=datetime.now(UTC) - timedelta(minutes=5))  # due: not listed
    await earn(sessions, member, 10, expires_at=_at(first - timedelta(days=1), 20))
    for week in range(26):
        await earn(sessions, member, 10, expires_at=_at(first + timedelta(weeks=week), 3))
    await spend(sessions, member, 20)  # the due lot's 5, then 15 of the first date's 20
    return first
