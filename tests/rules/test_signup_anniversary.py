"""`signup_anniversary` from the daily rule scan: on the signup date each year in the member's own calendar, with
`event.years`, once per year; 29 February signups on the 28th in a common year and on the 29th in a leap one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from models import Member
from services.members import scans
from tests.support.calendar_events import events_of, scan
from tests.support.helpers import ApiClient
from tests.support.rules import Sessions, create_rule, firings, new_scope, rule_body, scoped_member, tags


async def _signed_up(sessions: Sessions, member_id: str, at: datetime) -> uuid.UUID:
    """Back-date the member's signup (the API stamps it now)."""
    async with sessions() as session:
        await session.execute(update(Member).where(Member.id == uuid.UUID(member_id)).values(created_at=at))
        await session.commit()
    return uuid.UUID(member_id)


def test_signup_years_minds_29_february() -> None:
    leap_signup = date(2024, 2, 29)
    assert scans.signup_years(leap_signup, date(2025, 2, 28)) == 1
    assert scans.signup_years(leap_signup, date(2025, 3, 1)) is None
    assert scans.signup_years(leap_signup, date(2028, 2, 28)) is None  # a leap year: the 29th
    assert scans.signup_years(leap_signup, date(2028, 2, 29)) == 4
    assert scans.signup_years(date(2023, 2, 28), date(2024, 2, 28)) == 1
    assert scans.signup_years(date(2023, 2, 28), date(2024, 2, 29)) is None
    assert scans.signup_years(date(2026, 5, 1), date(2026, 5, 1)) is None  # the day itself


async def test_anniversaries_once_a_year_in_the_members_calendar_including_29_february(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, temporal_dev: WorkflowEnvironment
) -> None:
    scope = new_scope()
    rule = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "signup_anniversary"},
            conditions={
                "all": [
                    {"field": "tags", "op": "contains", "value": scope},
                    {"field": "event.years", "op": "eq", "value": 2},
                ]
            },
            actions=[{"tag": {"add": ["two_years"]}}],
        ),
    )
    leap = await _signed_up(
        sessions, await scoped_member(shop, sessions, scope, timezone="UTC"), datetime(2024, 2, 29, 10, tzinfo=UTC)
    )
    # 18:00 UTC on 28 February is 1 March in Shanghai: that member's anniversary is 1 March.
    east = await _signed_up(
        sessions,
        await scoped_member(shop, sessions, scope, timezone="Asia/Shanghai"),
        datetime(2025, 2, 28, 18, tzinfo=UTC),
    )

    first = await scan(temporal_dev, sessions, date(2025, 2, 28))
    assert first.events["signup_anniversary"] >= 1
    assert await events_of(sessions, leap, "signup_anniversary") == [{"years": 1}]
    assert await events_of(sessions, east, "signup_anniversary") == []
    again = await scan(temporal_dev, sessions, date(2025, 2, 28))
    assert again.events["signup_anniversary"] == 0
    assert await events_of(sessions, leap, "signup_anniversary") == [{"years": 1}]

    await scan(temporal_dev, sessions, date(2026, 2, 28))
    assert await events_of(sessions, leap, "signup_anniversary") == [{"years": 1}, {"years": 2}]
    assert await events_of(sessions, east, "signup_anniversary") == []
    assert "two_years" in await tags(sessions, str(leap))
    await scan(temporal_dev, sessions, date(2026, 3, 1))
    assert await events_of(sessions, east, "signup_anniversary") == [{"years": 1}]
    assert len(await events_of(sessions, leap, "signup_anniversary")) == 2

    await scan(temporal_dev, sessions, date(2028, 2, 28))  # a leap year: not yet
    assert len(await events_of(sessions, leap, "signup_anniversary")) == 2
    await scan(temporal_dev, sessions, date(2028, 2, 29))
    assert (await events_of(sessions, leap, "signup_anniversary"))[-1] == {"years": 4}
    assert len(await firings(sessions, rule["id"])) == 1  # only the second year's
