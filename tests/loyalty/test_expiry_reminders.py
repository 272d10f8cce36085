"""`points_expiring` from the daily rule scan, run directly as its schedule runs it (the time-skipping server has
no schedules): 30 and 7 days before, once each, with what is left of the lots after spends, in the member's own
calendar; nothing for points already spent; a rule reacting to the event."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from temporalio.testing import WorkflowEnvironment

from tests.support.calendar_events import events_of, scan
from tests.support.clock import utc_today
from tests.support.helpers import ApiClient
from tests.support.ledger import assert_ledger_ok, earn, new_member, spend
from tests.support.rules import Sessions, create_rule, firings, new_scope, rule_body, scoped_member, tags


def far_expiry_day() -> date:
    """A date years ahead that no other test's lots expire on, so the scans here see only this test's lots."""
    return utc_today() + timedelta(days=3000 + random.randrange(3000))


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


async def test_reminders_at_30_and_7_days_once_each_with_what_is_left(
    temporal_dev: WorkflowEnvironment, sessions: Sessions
) -> None:
    day = far_expiry_day()
    spender = await new_member(sessions)
    await earn(sessions, spender, 100, expires_at=at(day, 9))
    await earn(sessions, spender, 50, expires_at=at(day, 15))
    await earn(sessions, spender, 500, expires_at=at(day + timedelta(days=40), 9))
    await spend(sessions, spender, 30)  # the oldest lot first: 120 of the day's 150 are left
    spent_all = await new_member(sessions)
    await earn(sessions, spent_all, 80, expires_at=at(day, 9))
    await spend(sessions, spent_all, 80)
    # 20:00 UTC the day before is 04:00 on the day in Shanghai: that member's points expire on `day`.
    east = await new_member(sessions, timezone="Asia/Shanghai")
    await earn(sessions, east, 70, expires_at=at(day - timedelta(days=1), 20))

    await scan(temporal_dev, sessions, day - timedelta(days=31))
    assert await events_of(sessions, spender, "points_expiring") == []

    first = await scan(temporal_dev, sessions, day - timedelta(days=30))
    assert first.events["points_expiring"] == 2
    expected_30 = {"points": 120, "expires_on": day.isoformat(), "days_before": 30}
    assert await events_of(sessions, spender, "points_expiring") == [expected_30]
    assert await events_of(sessions, east, "points_expiring") == [
        {"points": 70, "expires_on": day.isoformat(), "days_before": 30}
    ]
    assert await events_of(sessions, spent_all, "points_expiring") == []

    again = await scan(temporal_dev, sessions, day - timedelta(days=30))  # the schedule ran twice
    assert again.events == {"points_expiring": 0, "signup_anniversary": 0}
    await scan(temporal_dev, sessions, day - timedelta(days=29))
    assert len(await events_of(sessions, spender, "points_expiring")) == 1

    await spend(sessions, spender, 100)  # 70 from the 09:00 lot, 30 from the 15:00 one: 20 left on the day
    seven = await scan(temporal_dev, sessions, day - timedelta(days=7))
    assert seven.events["points_expiring"] == 2
    assert await events_of(sessions, spender, "points_expiring") == [
        expected_30,
        {"points": 20, "expires_on": day.isoformat(), "days_before": 7},
    ]
    assert (await scan(temporal_dev, sessions, day - timedelta(days=7))).events["points_expiring"] == 0
    assert len(await events_of(sessions, east, "points_expiring")) == 2
    await assert_ledger_ok(sessions)


async def test_a_rule_on_points_expiring_tests_the_lead_and_the_amount(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, temporal_dev: WorkflowEnvironment
) -> None:
    scope = new_scope()
    rule = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "points_expiring"},
            conditions={
                "all": [
                    {"field": "tags", "op": "contains", "value": scope},
                    {"field": "event.days_before", "op": "eq", "value": 7},
                    {"field": "event.points", "op": "gte", "value": 100},
                ]
            },
            actions=[{"tag": {"add": ["use_points_now"]}}],
        ),
    )
    day = far_expiry_day()
    member_id = await scoped_member(shop, sessions, scope)
    await earn(sessions, uuid.UUID(member_id), 150, expires_at=at(day, 12))
    await scan(temporal_dev, sessions, day - timedelta(days=30))
    assert "use_points_now" not in await tags(sessions, member_id)
    await scan(temporal_dev, sessions, day - timedelta(days=7))
    assert "use_points_now" in await tags(sessions, member_id)
    assert len(await firings(sessions, rule["id"])) == 1
    await assert_ledger_ok(sessions)


async def test_a_rule_cannot_test_an_event_field_the_trigger_lacks(marketer: ApiClient) -> None:
    scope = new_scope()
    body = rule_body(
        scope,
        trigger={"event": "signup_anniversary"},
        conditions={"field": "event.points", "op": "gt", "value": 1},
        actions=[{"tag": {"add": ["x"]}}],
    )
    response = await marketer.post("/api/v1/rules", json=body)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert [d["field"] for d in details] == ["body.conditions.field"]
    assert "signup_anniversary has no event.points (it has: event.years)" in details[0]["message"]
    listed = (await marketer.get("/api/v1/rules")).json()
    assert body["name"] not in [rule["name"] for rule in listed]
