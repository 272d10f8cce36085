"""The rules engine on ingested events and orders: each trigger, every action, priority and stop_processing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from models import Coupon, StaffTask, TemporalOutbox
from services import members
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
from tests.support.rules import event_body as _event
from tests.support.rules import post_event as _post


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
