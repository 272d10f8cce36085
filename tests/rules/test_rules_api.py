"""Rules through the API: validation that names the field, roles, versions, enable/disable, audit, dry runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import get_settings
from models import AuditEntry, RuleVersion
from services import rules
from services.platform.api_keys import Role
from services.rules.builtins import builtin_rules
from services.rules.definition import ACTIONS as RULE_ACTIONS
from tests.support.helpers import ApiClient, KeyMaker, assert_error, walk_pages
from tests.support.rules import (
    Sessions,
    create_rule,
    firings,
    footprint,
    new_scope,
    posted,
    rule_body,
    scoped,
    scoped_member,
)


def _checkin(member_id: str, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "type": "checked_in", "occurred_at": datetime.now(UTC).isoformat(), **extra}


def _fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


def _nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"field": "tier", "op": "eq", "value": "gold"}
    for _ in range(depth - 1):
        condition = {"not": condition}
    return condition


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"actions": [{"grant_points": {"points": 0}}]}, "body.actions.0.grant_points.points"),
        ({"actions": [{"grant_points": {}}]}, "body.actions.0.grant_points"),
        ({"actions": [{"grant_points": {"points": 1}, "tag": {"add": ["x"]}}]}, "body.actions.0"),
        ({"actions": []}, "body.actions"),
        ({"trigger": {"event": "moon_landing"}}, "body.trigger.event"),
        ({"trigger": {"event": "inactive_days"}}, "body.trigger"),
        ({"conditions": {"field": "shoe_size", "op": "eq", "value": 1}}, "body.conditions"),
        ({"limit": "once_per_value"}, "body"),
        ({"priority": -1}, "body.priority"),
        ({"surprise": True}, "body.surprise"),
        ({"name": "Has Spaces"}, "body.name"),
        ({"actions": [{"issue_coupon": {"template": "no_such_coupon"}}]}, "body.actions.0.issue_coupon.template"),
        (
            {"actions": [{"tag": {"add": ["a"]}}, {"start_journey": {"kind": "no_such_journey"}}]},
            "body.actions.1.start_journey.kind",
        ),
        (
            {"actions": [{"send_message": {"channel": "sms", "template": "no_such_template"}}]},
            "body.actions.0.send_message.template",
        ),
        (
            {"actions": [{"send_message": {"channel": "sms", "template": "cart_reminder", "coupon": "nope"}}]},
            "body.actions.0.send_message.coupon",
        ),
        ({"actions": [{"grant_points": {"per_currency_unit": "1"}}]}, "body.actions.0.grant_points.per_currency_unit"),
        (
            {
                "conditions": {
                    "all": [
                        {"field": "tier", "op": "eq", "value": "gold"},
                        {"field": "event.amount", "op": "gt", "value": 1},
                    ]
                }
            },
            "body.conditions.all.1.field",
        ),
        ({"conditions": _nested(11)}, "body.conditions"),
        (
            {"conditions": {"any": [{"all": [{"field": "tier", "op": "eq", "value": i} for i in range(50)]}] * 5}},
            "body.conditions",
        ),
    ],
)
async def test_an_invalid_rule_is_refused_naming_the_field_and_nothing_is_saved(
    marketer: ApiClient, change: dict[str, Any], field: str
) -> None:
    body = rule_body(new_scope(), **change)
    error = assert_error(await marketer.post("/api/v1/rules", json=body), 422, "invalid_rule")
    assert field in _fields(error), error
    checked = (await marketer.post("/api/v1/rules/validate", json=body)).json()
    assert checked["valid"] is False
    assert field in [p["field"] for p in checked["problems"]]
    names = [r["name"] for r in (await marketer.get("/api/v1/rules")).json()]
    assert body["name"] not in names


async def test_a_body_that_is_not_an_object_is_a_422(marketer: ApiClient) -> None:
    for body in ([1, 2], "rule", None):
        assert_error(await marketer.post("/api/v1/rules", json=body), 422)
        assert_error(await marketer.post("/api/v1/rules/validate", json=body), 422)


async def test_validate_accepts_a_good_rule_and_the_name_is_unique(marketer: ApiClient) -> None:
    body = rule_body(new_scope())
    assert (await marketer.post("/api/v1/rules/validate", json=body)).json() == {"valid": True, "problems": []}
    await create_rule(marketer, body)
    assert_error(await marketer.post("/api/v1/rules", json=body), 409, "rule_exists")


async def test_marketers_write_any_key_reads(
    marketer: ApiClient, shop: ApiClient, admin: ApiClient, make_key: KeyMaker
) -> None:
    body = rule_body(new_scope())
    assert_error(await shop.post("/api/v1/rules", json=body), 403, "insufficient_role")
    created = await create_rule(admin, body)
    ops = ApiClient(marketer.http, await make_key(Role.OPS))
    assert (await ops.get(f"/api/v1/rules/{created['id']}")).status_code == 200
    assert_error(await ops.post(f"/api/v1/rules/{created['id']}/disable"), 403)
    assert_error(await marketer.get(f"/api/v1/rules/{uuid.uuid4()}"), 404, "rule_not_found")
    assert_error(await marketer.get(f"/api/v1/rules/{created['id']}/versions/9"), 404, "rule_version_not_found")


async def test_a_new_version_is_used_from_then_on_and_firings_record_their_version(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    body = rule_body(scope, limit="none")
    created = await create_rule(marketer, body)
    assert (created["current_version"], created["versions"], created["builtin"]) == (1, [1], False)
    member_id = await scoped_member(shop, sessions, scope)
    first = await shop.post("/api/v1/events", json=_checkin(member_id))
    # 7 from the rule plus the built-in 10 for the first check-in of the day.
    assert first.json()["points_awarded"] == 17

    body["actions"] = [{"grant_points": {"points": 11}}]
    published = await marketer.put(f"/api/v1/rules/{created['id']}", json=body)
    assert published.status_code == 200, published.text
    assert (published.json()["current_version"], published.json()["versions"]) == (2, [2, 1])
    second = await shop.post("/api/v1/events", json=_checkin(member_id))
    assert second.json()["points_awarded"] == 11  # the built-in award is once per day
    assert await posted(sessions, member_id) == 28

    assert [f.version for f in await firings(sessions, created["id"])] == [1, 2]
    v1 = (await marketer.get(f"/api/v1/rules/{created['id']}/versions/1")).json()
    assert v1["definition"]["actions"] == [{"grant_points": {"points": 7}}]
    listed = (await marketer.get(f"/api/v1/rules/{created['id']}/versions")).json()
    assert [v["version"] for v in listed] == [2, 1]
    page = (await marketer.get(f"/api/v1/rules/{created['id']}/firings?limit=1")).json()
    assert len(page["items"]) == 1
    assert page["items"][0]["version"] == 2
    assert page["next_cursor"] is not None
    rest = (await marketer.get(f"/api/v1/rules/{created['id']}/firings?cursor={page['next_cursor']}")).json()
    assert [f["version"] for f in rest["items"]] == [1]
    walked = await walk_pages(marketer, f"/api/v1/rules/{created['id']}/firings", limit=1)
    assert [f["version"] for f in walked] == [2, 1]  # newest first
    assert [f["id"] for f in walked] == [page["items"][0]["id"], rest["items"][0]["id"]]

    renamed = dict(body, name="another_name")
    error = assert_error(await marketer.put(f"/api/v1/rules/{created['id']}", json=renamed), 422, "invalid_rule")
    assert _fields(error) == ["body.name"]


async def test_a_disabled_rule_does_not_fire_and_changes_are_audited(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    created = await create_rule(marketer, rule_body(scope, trigger={"event": "profile_completed"}))
    member_id = await scoped_member(shop, sessions, scope)
    disabled = await marketer.post(f"/api/v1/rules/{created['id']}/disable")
    assert disabled.json()["enabled"] is False
    event = {"member_id": member_id, "type": "profile_completed", "occurred_at": datetime.now(UTC).isoformat()}
    assert (await shop.post("/api/v1/events", json=event)).json()["points_awarded"] == 50  # only the built-in
    assert await firings(sessions, created["id"]) == []
    assert (await marketer.post(f"/api/v1/rules/{created['id']}/enable")).json()["enabled"] is True
    event["occurred_at"] = datetime.now(UTC).isoformat()
    assert (await shop.post("/api/v1/events", json=event)).json()["points_awarded"] == 7
    async with sessions() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.target_id == created["id"]).order_by(AuditEntry.created_at)
            )
        ).scalars()
        assert list(actions) == ["rule.create", "rule.disable", "rule.enable"]


async def test_dry_run_reports_every_rule_in_order_and_changes_nothing(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    member_id = await scoped_member(shop, sessions, scope)
    await create_rule(
        marketer,
        rule_body(
            scope,
            name=f"a_big_{scope}",
            trigger={"event": "order_completed"},
            conditions=scoped(scope, {"field": "event.amount", "op": "gte", "value": 500}),
            priority=5,
        ),
    )
    off = await create_rule(marketer, rule_body(scope, trigger={"event": "order_completed"}, priority=6))
    await marketer.post(f"/api/v1/rules/{off['id']}/disable")
    draft = rule_body(
        scope,
        name=f"draft_{scope}",
        trigger={"event": "order_completed"},
        priority=1,
        actions=[
            {"grant_points": {"per_currency_unit": "1.5"}},
            {"issue_coupon": {"template": "birthday_20"}},
            {"create_task": {"title": "Thank a big spender", "assignee_role": "account_manager"}},
            {"tag": {"add": ["big_spender"]}},
            {"flag": {"set": "vip"}},
            {"start_journey": {"kind": "win_back"}},
            {"send_message": {"channel": "email", "template": "purchase_thanks", "delay": {"hours": 1}}},
        ],
    )
    before = await footprint(sessions, member_id)
    response = await marketer.post(
        "/api/v1/rules/dry-run",
        json={"event": {"trigger": "order_completed", "member_id": member_id, "amount": "129.90"}, "rule": draft},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    mine = [v for v in result["verdicts"] if scope in v["name"] or v["rule_id"] in (off["id"],)]
    assert [(v["name"], v["status"]) for v in mine] == [
        (draft["name"], "would_fire"),
        (f"a_big_{scope}", "condition_false"),
        (off["name"], "disabled"),
    ]
    assert "event.amount gte 500" in mine[1]["reason"]
    assert mine[0]["rule_id"] is None
    assert mine[0]["actions"][0] == {"action": "grant_points", "points": 194}  # 129.90 × 1.5, rounded down
    assert [a["action"] for a in mine[0]["actions"]] == [
        "grant_points",
        "issue_coupon",
        "create_task",
        "tag",
        "flag",
        "start_journey",
        "send_message",
    ]
    assert result["would_fire"] == [draft["name"]]
    assert result["points"] == 194
    assert await footprint(sessions, member_id) == before


async def test_dry_run_shows_a_reached_limit_and_bad_input_is_a_422(
    marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    scope = new_scope()
    member_id = await scoped_member(shop, sessions, scope)
    created = await create_rule(marketer, rule_body(scope, limit="once_per_day"))
    assert (await shop.post("/api/v1/events", json=_checkin(member_id))).json()["points_awarded"] == 17
    result = (
        await marketer.post("/api/v1/rules/dry-run", json={"event": {"trigger": "checked_in", "member_id": member_id}})
    ).json()
    by_name = {v["name"]: v for v in result["verdicts"]}
    assert by_name[created["name"]]["status"] == "limit_reached"
    assert by_name["award_checked_in"]["status"] == "limit_reached"
    assert by_name[created["name"]]["actions"][0]["points"] == 7
    error = assert_error(
        await marketer.post(
            "/api/v1/rules/dry-run",
            json={"event": {"trigger": "checked_in", "member_id": member_id}, "rule": {"name": "x_y"}},
        ),
        422,
        "invalid_rule",
    )
    assert "body.rule.trigger" in _fields(error)
    other = rule_body(scope, trigger={"event": "shared"})
    error = assert_error(
        await marketer.post(
            "/api/v1/rules/dry-run", json={"event": {"trigger": "checked_in", "member_id": member_id}, "rule": other}
        ),
        422,
        "invalid_rule",
    )
    assert _fields(error) == ["body.rule.trigger.event"]
    error = assert_error(
        await marketer.post("/api/v1/rules/dry-run", json={"event": {"trigger": "nope", "member_id": member_id}}),
        422,
    )
    assert any("trigger" in d["field"] for d in error["details"])
    assert_error(
        await marketer.post(
            "/api/v1/rules/dry-run", json={"event": {"trigger": "checked_in", "member_id": str(uuid.uuid4())}}
        ),
        404,
    )


def test_every_built_in_rule_parses_and_dumps_back() -> None:
    raws = builtin_rules(get_settings().points.awards)
    assert {raw["name"] for raw in raws} >= {"award_signed_up", "award_checked_in"}
    for raw in raws:
        dumped = rules.stored(rules.parse(raw))
        assert {key: dumped[key] for key in raw} == raw  # what was written stays; storage only adds the defaults
        assert rules.stored(rules.parse(dumped)) == dumped


async def test_stored_rule_definitions_load_unchanged(marketer: ApiClient, sessions: Sessions) -> None:
    await create_rule(marketer, rule_body(new_scope(), actions=[{"tag": {"add": ["seen"]}}, {"flag": {"set": "vip"}}]))
    async with sessions() as session:
        rows = (await session.execute(select(RuleVersion))).scalars().all()
    assert any(row.definition["name"] == "award_signed_up" for row in rows)
    for row in rows:
        assert rules.stored(rules.parse(row.definition)) == row.definition, row.definition["name"]


@pytest.mark.parametrize(
    ("actions", "has"),
    [([{}], "none"), ([{"grant_points": {"points": 1}, "tag": {"add": ["x"]}}], "grant_points, tag")],
)
async def test_an_action_of_no_kind_or_two_says_which_it_has(
    marketer: ApiClient, actions: list[dict[str, Any]], has: str
) -> None:
    body = rule_body(new_scope(), actions=actions)
    error = assert_error(await marketer.post("/api/v1/rules", json=body), 422, "invalid_rule")
    message = f"an action needs exactly one of {', '.join(RULE_ACTIONS)}; it has {has}"
    assert {"field": "body.actions.0", "message": message} in error["details"], error
