"""Rule conditions on custom member fields: undefined keys and tests that do not fit a field's type or options
are refused naming the part at fault, and change nothing; personal fields may be tested (rules run outside
workflow history); a rule on a field fires for the members whose value fits."""

from __future__ import annotations

from typing import Any

from tests.support.fields import fields_defined
from tests.support.helpers import ApiClient, assert_error
from tests.support.rules import (
    Sessions,
    create_rule,
    event_body,
    new_scope,
    post_event,
    rule_body,
    scoped,
    scoped_member,
)


def _on(key: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": f"attributes.{key}", "op": op, "value": value}


async def test_conditions_on_fields_that_do_not_exist_or_fit_are_refused_naming_the_part(
    admin: ApiClient, marketer: ApiClient
) -> None:
    async with fields_defined(
        admin, {"field_type": "single_select"}, {"field_type": "number"}, {"field_type": "boolean"}
    ) as (colour, size, vip):
        scope = new_scope()
        body = rule_body(
            scope,
            conditions=scoped(
                scope,
                _on("no_such_field", "eq", 1),
                _on(colour["key"], "gt", "red"),
                _on(colour["key"], "in", ["red", "purple"]),
                {"not": _on(size["key"], "gte", "42")},
                _on(vip["key"], "eq", "yes"),
            ),
        )
        error = assert_error(await marketer.post("/api/v1/rules", json=body), 422, "invalid_rule")
        problems = {d["field"]: d["message"] for d in error["details"]}
        assert problems == {
            "body.conditions.all.1.field": "there is no member field 'no_such_field' (GET /api/v1/member-fields)",
            "body.conditions.all.2.op": (
                f"gt does not fit {colour['key']}, a single_select field (it takes: eq, ne, in, not_in, exists)"
            ),
            "body.conditions.all.3.value.1": (
                f"{colour['key']} is a single_select field: the value must be one of its options: red, green, blue"
            ),
            "body.conditions.all.4.not.value": (
                f"{size['key']} is a number field: the value must be a number (a JSON number, not text)"
            ),
            "body.conditions.all.5.value": f"{vip['key']} is a boolean field: the value must be true or false",
        }
        names = {r["name"] for r in (await marketer.get("/api/v1/rules")).json()}
        assert body["name"] not in names
        checked = (await marketer.post("/api/v1/rules/validate", json=body)).json()
        assert checked["valid"] is False
        assert {p["field"] for p in checked["problems"]} == set(problems)


async def test_a_rule_on_a_personal_date_field_fires_for_the_members_it_fits(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    async with fields_defined(admin, {"field_type": "date", "personal_data": True}) as (wedding,):
        key = wedding["key"]
        scope = new_scope()
        body = rule_body(
            scope,
            conditions=scoped(scope, _on(key, "lt", "2020-01-01")),
            actions=[{"tag": {"add": ["married_long_ago"]}}],
        )
        rule = await create_rule(marketer, body)
        try:
            before = await scoped_member(shop, sessions, scope, attributes={key: "2019-12-31"})
            after = await scoped_member(shop, sessions, scope, attributes={key: "2020-01-01"})
            for member_id in (before, after):
                await post_event(shop, event_body(member_id, "checked_in"))
            tagged = {
                member_id
                for member_id in (before, after)
                if "married_long_ago" in (await shop.get(f"/api/v1/members/{member_id}")).json()["tags"]
            }
            assert tagged == {before}
        finally:
            assert (await marketer.post(f"/api/v1/rules/{rule['id']}/disable")).status_code == 200
