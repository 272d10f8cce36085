"""The rules engine on ingested events and orders: triggers, actions, priority, limits, idempotency, races,
and the built-in behaviour awards that replaced the hard-coded ones."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.settings import get_settings
from core.timeutil import add_months
from models import Coupon, LedgerAccount, LedgerEntry, LedgerTransaction, Rule, StaffTask, TemporalOutbox
from services import members, rules
from services.loyalty import ledger
from tests.support.helpers import ApiClient, order_body
from tests.support.rules import (
    Sessions,
    create_rule,
    firings,
    new_scope,
    posted,
    rule_body,
    scoped,
    scoped_member,
    tags,
)


def _event(member_id: str, kind: str, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "type": kind, "occurred_at": (at or datetime.now(UTC)).isoformat(), **extra}


async def _post(shop: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await shop.post("/api/v1/events", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("trigger", "properties"),
    [
        ("signed_up", {}),
        ("checked_in", {}),
        ("review_posted", {"review_id": "rv-9", "rating": 5}),
        ("profile_completed", {}),
        ("cart_abandoned", {"cart_id": "c-1"}),
        ("shared", {}),
    ],
)
async def test_each_behaviour_trigger_fires_its_rules(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions, trigger: str, properties: dict[str, Any]
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer, rule_body(scope, trigger={"event": trigger}, actions=[{"tag": {"add": [f"saw_{trigger}"]}}])
    )
    member_id = await scoped_member(shop, sessions, scope)
    other = await scoped_member(shop, sessions, new_scope())  # not in scope: the condition is false
    await _post(shop, _event(member_id, trigger, properties=properties))
    await _post(shop, _event(other, trigger, properties=properties))
    assert f"saw_{trigger}" in await tags(sessions, member_id)
    assert f"saw_{trigger}" not in await tags(sessions, other)
    [firing] = await firings(sessions, created["id"])
    assert firing.member_id == uuid.UUID(member_id)
    assert firing.trigger == trigger


async def test_order_completed_points_one_per_currency_unit_and_conditions_on_the_amount(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    """Seed 1: order completed → points 1:1 (on top of the base earn, which stays with the order)."""
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "order_completed"},
            conditions=scoped(scope, {"field": "event.amount", "op": "gte", "value": "100"}),
            actions=[{"grant_points": {"per_currency_unit": "1", "reason": "Double points week"}}],
        ),
    )
    member_id = await scoped_member(shop, sessions, scope)
    assert (await shop.post("/api/v1/orders", json=order_body(member_id, amount="129.90"))).status_code == 201
    assert await posted(sessions, member_id) == 129 + 129
    assert (await shop.post("/api/v1/orders", json=order_body(member_id, amount="99.99"))).status_code == 201
    assert await posted(sessions, member_id) == 258 + 99  # below 100: only the base earn
    [firing] = await firings(sessions, created["id"])
    assert firing.results[0]["points"] == 129
    assert firing.results[0]["status"] == "done"
    assert firing.event_key.startswith("order:")


async def test_tier_changed_fires_with_the_old_and_new_tier(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "tier_changed"},
            conditions=scoped(
                scope,
                {"field": "event.new_tier", "op": "eq", "value": "silver"},
                {"field": "event.old_tier", "op": "eq", "value": "member"},
            ),
            actions=[{"flag": {"set": "new_silver"}}, {"grant_points": {"points": 300}}],
        ),
    )
    member_id = await scoped_member(shop, sessions, scope)
    await shop.post("/api/v1/orders", json=order_body(member_id, amount="900.00"))
    assert "new_silver" not in await tags(sessions, member_id)
    await shop.post("/api/v1/orders", json=order_body(member_id, amount="200.00"))
    assert "new_silver" in await tags(sessions, member_id)
    assert await posted(sessions, member_id) == 900 + 200 + 300


async def test_every_database_action_commits_with_the_event_and_temporal_ones_go_through_the_outbox(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "review_posted"},
            conditions=scoped(scope, {"field": "event.properties.rating", "op": "gte", "value": 4}),
            actions=[
                {"grant_points": {"points": 15}},
                {"issue_coupon": {"template": "new_member_10"}},  # at most one per member
                {"create_task": {"title": "Thank for the review", "assignee_role": "marketer", "due_days": 1}},
                {"tag": {"add": ["reviewer", "fan"], "remove": ["lurker"]}},
                {"flag": {"set": "advocate"}},
                {"start_journey": {"kind": "tier_upgrade"}},
                {"send_message": {"channel": "email", "template": "purchase_thanks"}},
            ],
        ),
    )
    member_id = await scoped_member(shop, sessions, scope)
    async with sessions() as session:
        await members.change_tags(session, uuid.UUID(member_id), add=["lurker"], remove=[])
        await session.commit()
    low = await _post(shop, _event(member_id, "review_posted", properties={"review_id": "a", "rating": 2}))
    assert low["points_awarded"] == 20  # the built-in award only
    high = await _post(shop, _event(member_id, "review_posted", properties={"review_id": "b", "rating": 5}))
    assert high["points_awarded"] == 20 + 15
    assert set(await tags(sessions, member_id)) == {scope, "reviewer", "fan", "advocate"}
    again = await _post(shop, _event(member_id, "review_posted", properties={"review_id": "c", "rating": 4}))
    assert again["points_awarded"] == 35
    first, second = await firings(sessions, created["id"])
    actions = {r["action"]: r for r in second.results}
    assert actions["issue_coupon"] == {
        "action": "issue_coupon",
        "template": "new_member_10",
        "status": "skipped",
        "reason": "coupon_limit_reached",
    }
    assert {r["action"]: r["status"] for r in first.results} == {
        "grant_points": "done",
        "issue_coupon": "done",
        "create_task": "done",
        "tag": "done",
        "flag": "done",
        "start_journey": "started",
        "send_message": "scheduled",
    }
    async with sessions() as session:
        coupons = (await session.execute(select(Coupon).where(Coupon.member_id == uuid.UUID(member_id)))).scalars()
        assert len(list(coupons)) == 1
        titles = (
            await session.execute(select(StaffTask.title).where(StaffTask.member_id == uuid.UUID(member_id)))
        ).scalars()
        assert list(titles) == ["Thank for the review", "Thank for the review"]  # one per firing
        starts = (
            await session.execute(
                select(TemporalOutbox.workflow_type, TemporalOutbox.workflow_id, TemporalOutbox.payload).where(
                    TemporalOutbox.workflow_id.in_(
                        [f"journey-tier_upgrade-{member_id}", first.results[6]["workflow_id"]]
                    )
                )
            )
        ).all()
    kinds = sorted(row.workflow_type for row in starts)
    assert kinds == ["JourneyWorkflow", "JourneyWorkflow", "RuleMessageWorkflow"]
    message = next(row for row in starts if row.workflow_type == "RuleMessageWorkflow")
    assert message.workflow_id == f"rule-{created['id']}-v1-{first.event_key}"
    assert set(message.payload) == {"member_id", "rule_id", "version", "event_at", "sends"}  # ids, no personal data
    assert message.payload["sends"][0]["template"] == "purchase_thanks"


async def test_priority_orders_rules_and_stop_processing_ends_the_evaluation(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    tagger = await create_rule(marketer, rule_body(scope, priority=10, actions=[{"tag": {"add": ["first"]}}]))
    stopper = await create_rule(
        marketer,
        rule_body(
            scope,
            priority=20,
            stop_processing=True,
            conditions=scoped(scope, {"field": "tags", "op": "contains", "value": "first"}),
            actions=[{"grant_points": {"points": 3}}],
        ),
    )
    later = await create_rule(marketer, rule_body(scope, priority=30, actions=[{"grant_points": {"points": 1000}}]))
    member_id = await scoped_member(shop, sessions, scope)
    outcome = await _post(shop, _event(member_id, "checked_in"))
    # The stopper saw the tag the earlier rule added, fired, and stopped the rest (the built-in award too).
    assert (outcome["points_awarded"], outcome["award_status"]) == (3, "awarded")
    assert len(await firings(sessions, tagger["id"])) == 1
    assert len(await firings(sessions, stopper["id"])) == 1
    assert await firings(sessions, later["id"]) == []
    dry = (
        await marketer.post("/api/v1/rules/dry-run", json={"event": {"trigger": "checked_in", "member_id": member_id}})
    ).json()
    statuses = [(v["name"], v["status"]) for v in dry["verdicts"]]
    mine = [s for s in statuses if s[0] in (tagger["name"], stopper["name"], later["name"], "award_checked_in")]
    assert mine == [
        (tagger["name"], "would_fire"),
        (stopper["name"], "would_fire"),
        (later["name"], "stopped"),
        ("award_checked_in", "stopped"),
    ]


async def test_limits_per_member_in_the_members_own_calendar(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    weekly = await create_rule(marketer, rule_body(scope, trigger={"event": "shared"}, limit="once_per_week"))
    monthly = await create_rule(marketer, rule_body(scope, trigger={"event": "cart_abandoned"}, limit="once_per_month"))
    once = await create_rule(marketer, rule_body(scope, trigger={"event": "profile_completed"}, limit="once"))
    member_id = await scoped_member(shop, sessions, scope, timezone="Asia/Shanghai")
    # Mon 2026-11-16 .. Sun 2026-11-22 is one ISO week; 2026-11-22 17:00 UTC is already Monday in Shanghai.
    for at in ("2026-11-16T02:00:00Z", "2026-11-22T15:00:00Z", "2026-11-22T17:00:00Z"):
        await _post(shop, _event(member_id, "shared", datetime.fromisoformat(at)))
    assert [f.limit_key for f in await firings(sessions, weekly["id"])] == ["w:2026-W47", "w:2026-W48"]
    for at in ("2026-10-31T15:00:00Z", "2026-10-31T17:00:00Z", "2026-11-20T00:00:00Z"):
        await _post(shop, _event(member_id, "cart_abandoned", datetime.fromisoformat(at)))
    assert [f.limit_key for f in await firings(sessions, monthly["id"])] == ["m:2026-10", "m:2026-11"]
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


async def test_builtin_award_rules_are_seeded_once_and_editable(marketer: ApiClient, sessions: Sessions) -> None:
    async with sessions() as session:
        assert await rules.seed_builtins(session) == 0  # the app's start-up seeded them already
        names = (await session.execute(select(Rule.name).where(Rule.builtin.is_(True)))).scalars().all()
    assert set(names) >= {
        "award_signed_up",
        "award_checked_in",
        "award_profile_completed",
        "award_review_posted",
        "award_shared",
    }
    listed = (await marketer.get("/api/v1/rules?trigger=checked_in")).json()
    [builtin] = [r for r in listed if r["name"] == "award_checked_in"]
    assert builtin["definition"]["limit"] == "once_per_day"
    assert builtin["definition"]["actions"] == [
        {"grant_points": {"points": get_settings().points.awards["checked_in"]}}
    ]


async def test_an_award_made_before_the_upgrade_is_not_made_again(shop: ApiClient, sessions: Sessions) -> None:
    """The hard-coded award of today, under its old ledger key, counts against the built-in rule's limit."""
    member_id = await scoped_member(shop, sessions, new_scope(), timezone="Asia/Shanghai")
    at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    async with sessions() as session:  # exactly what services/events.py posted before rules
        await ledger.credit(
            session,
            member_id=uuid.UUID(member_id),
            points=10,
            kind=ledger.TxKind.EARN,
            reason="Points for checked in",
            idempotency_key=f"award:checked_in:{member_id}:2026-11-20",
            reference=("event", "checked_in"),
            expires_at=add_months(at, 12),
        )
        await ledger.credit(
            session,
            member_id=uuid.UUID(member_id),
            points=999,  # an award under settings that were different that day
            kind=ledger.TxKind.EARN,
            reason="Points for profile completed",
            idempotency_key=f"award:profile_completed:{member_id}",
            reference=("event", "profile_completed"),
            expires_at=add_months(at, 12),
        )
        await session.commit()
    same_day = await _post(shop, _event(member_id, "checked_in", at + timedelta(hours=2)))
    assert (same_day["points_awarded"], same_day["award_status"]) == (0, "already_awarded")
    profile = await _post(shop, _event(member_id, "profile_completed", at))
    assert (profile["points_awarded"], profile["award_status"]) == (0, "already_awarded")
    next_day = await _post(shop, _event(member_id, "checked_in", at + timedelta(days=1)))
    assert (next_day["points_awarded"], next_day["award_status"]) == (10, "awarded")
    assert await posted(sessions, member_id) == 10 + 999 + 10


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


async def test_a_flag_is_set_and_cleared_and_a_rule_can_start_disabled(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "cart_abandoned"},
            actions=[{"flag": {"set": "cart_risk"}}],
        ),
    )
    await create_rule(
        marketer,
        rule_body(scope, trigger={"event": "order_completed"}, actions=[{"flag": {"clear": "cart_risk"}}]),
    )
    dormant = await create_rule(
        marketer,
        rule_body(scope, trigger={"event": "cart_abandoned"}, enabled=False, actions=[{"tag": {"add": ["never"]}}]),
    )
    assert dormant["enabled"] is False
    member_id = await scoped_member(shop, sessions, scope)
    await _post(shop, _event(member_id, "cart_abandoned", properties={"cart_id": "k"}))
    assert await tags(sessions, member_id) == [scope, "cart_risk"]
    await shop.post("/api/v1/orders", json=order_body(member_id, amount="5.00"))
    assert await tags(sessions, member_id) == [scope]
    assert await firings(sessions, dormant["id"]) == []


async def test_an_edited_builtin_award_keeps_its_limit_and_an_added_grant_gets_its_own_key(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    [builtin] = [r for r in (await marketer.get("/api/v1/rules?trigger=shared")).json() if r["name"] == "award_shared"]
    original = builtin["definition"]
    edited = dict(original, actions=[*original["actions"], {"grant_points": {"points": 3, "reason": "Share bonus"}}])
    assert (await marketer.put(f"/api/v1/rules/{builtin['id']}", json=edited)).status_code == 200
    try:
        member_id = await scoped_member(shop, sessions, new_scope())
        first = await _post(shop, _event(member_id, "shared"))
        second = await _post(shop, _event(member_id, "shared"))
        assert (first["points_awarded"], second["award_status"]) == (5 + 3, "already_awarded")
        async with sessions() as session:
            keys = (
                await session.execute(
                    select(LedgerTransaction.idempotency_key)
                    .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
                    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                    .where(LedgerAccount.member_id == uuid.UUID(member_id))
                    .order_by(LedgerTransaction.id)
                )
            ).scalars()
            day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
            assert list(keys) == [
                f"award:shared:{member_id}:{day}",
                f"rule:{builtin['id']}:{member_id}:d:{day}:1",
            ]
    finally:
        assert (await marketer.put(f"/api/v1/rules/{builtin['id']}", json=original)).status_code == 200
