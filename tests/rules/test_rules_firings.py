"""A rule fires once: limits in the member's own calendar, duplicate and redelivered events, concurrent evaluations."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

from services import members, rules
from tests.support.clock import utc_today
from tests.support.helpers import ApiClient, order_body
from tests.support.rules import Sessions, create_rule, firings, new_scope, posted, rule_body, scoped_member
from tests.support.rules import event_body as _event
from tests.support.rules import post_event as _post


def _utc(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


async def test_limits_per_member_in_the_members_own_calendar(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    weekly = await create_rule(marketer, rule_body(scope, trigger={"event": "shared"}, limit="once_per_week"))
    monthly = await create_rule(marketer, rule_body(scope, trigger={"event": "cart_abandoned"}, limit="once_per_month"))
    once = await create_rule(marketer, rule_body(scope, trigger={"event": "profile_completed"}, limit="once"))
    member_id = await scoped_member(shop, sessions, scope, timezone="Asia/Shanghai")
    # An ISO week two to three weeks back, Monday to Sunday (dates relative to today: events older than 366
    # days are refused); Sunday 17:00 UTC is already Monday in Shanghai, the next week.
    monday = utc_today() - timedelta(days=utc_today().weekday() + 14)
    sunday = monday + timedelta(days=6)
    for at in (_utc(monday, 2), _utc(sunday, 15), _utc(sunday, 17)):
        await _post(shop, _event(member_id, "shared", at))
    weeks = [f"w:{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in (monday, monday + timedelta(days=7))]
    assert [f.limit_key for f in await firings(sessions, weekly["id"])] == weeks
    # The last day of the month before last, 23:00 and (17:00 UTC) 01:00 in Shanghai, then the 20th of last month.
    month_end = utc_today().replace(day=1) - timedelta(days=1)
    month_end = month_end.replace(day=1) - timedelta(days=1)
    next_month = month_end + timedelta(days=1)
    for at in (_utc(month_end, 15), _utc(month_end, 17), _utc(next_month.replace(day=20), 0)):
        await _post(shop, _event(member_id, "cart_abandoned", at))
    months = [f"m:{d:%Y-%m}" for d in (month_end, next_month)]
    assert [f.limit_key for f in await firings(sessions, monthly["id"])] == months
    for _ in range(2):
        await _post(shop, _event(member_id, "profile_completed"))
    assert [f.limit_key for f in await firings(sessions, once["id"])] == ["once"]


async def test_the_same_event_twice_at_once_fires_once_and_so_do_two_check_ins_of_one_day(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    per_event = await create_rule(marketer, rule_body(scope, trigger={"event": "shared"}, limit="none"))
    daily = await create_rule(marketer, rule_body(scope, limit="once_per_day"))
    member_id = await scoped_member(shop, sessions, scope)
    same = _event(member_id, "shared", event_id=f"share-{scope}")
    results = await asyncio.gather(*(_post(shop, same) for _ in range(4)))
    assert sorted(r["duplicate"] for r in results) == [False, True, True, True]
    assert sorted(r["award_status"] for r in results) == ["already_awarded"] * 3 + ["awarded"]
    assert len(await firings(sessions, per_event["id"])) == 1
    now = datetime.now(UTC)
    checkins = [_event(member_id, "checked_in", now + timedelta(seconds=i)) for i in range(4)]
    results = await asyncio.gather(*(_post(shop, body) for body in checkins))
    assert sorted(r["points_awarded"] for r in results) == [0, 0, 0, 17]
    assert len(await firings(sessions, daily["id"])) == 1
    assert await posted(sessions, member_id) == 5 + 7 + 17


async def test_a_redelivered_order_event_changes_nothing(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "order_completed"},
            actions=[{"grant_points": {"points": 40}}, {"create_task": {"title": "Call after the order"}}],
        ),
    )
    member_id = await scoped_member(shop, sessions, scope)
    order = (await shop.post("/api/v1/orders", json=order_body(member_id, amount="10.00"))).json()
    assert await posted(sessions, member_id) == 50
    async with sessions() as session:
        member = await members.get(session, uuid.UUID(member_id), for_update=True)
        event = rules.RuleEvent(
            "order_completed", member, f"order:{order['id']}", datetime.now(UTC), {"event.amount": 10}
        )
        again = await rules.evaluate_event(session, event, task_queue="unused")
        await session.commit()
    [verdict] = [v for v in again.verdicts if v.name == created["name"]]
    assert verdict.status == "already_fired"
    assert await posted(sessions, member_id) == 50
    assert len(await firings(sessions, created["id"])) == 1


async def test_concurrent_evaluations_of_one_event_claim_one_firing_without_any_member_lock(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    """The firing's unique keys alone decide: the second insert waits for the first commit, then yields."""
    scope = new_scope()
    created = await create_rule(
        marketer, rule_body(scope, trigger={"event": "cart_abandoned"}, actions=[{"grant_points": {"points": 9}}])
    )
    member_id = await scoped_member(shop, sessions, scope)

    async def evaluate(delay: float) -> str:
        async with sessions() as session:
            member = await members.get(session, uuid.UUID(member_id))  # no row lock
            event = rules.RuleEvent("cart_abandoned", member, f"event:{scope}", datetime.now(UTC))
            evaluation = await rules.evaluate_event(session, event, task_queue="unused")
            await asyncio.sleep(delay)  # hold the transaction open while the other one tries
            await session.commit()
        [verdict] = [v for v in evaluation.verdicts if v.name == created["name"]]
        return verdict.status

    statuses = await asyncio.gather(evaluate(0.3), evaluate(0.3), evaluate(0.0))
    assert sorted(statuses) == ["already_fired", "already_fired", "fired"]
    assert await posted(sessions, member_id) == 9
