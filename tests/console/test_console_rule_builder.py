"""The rule builder's console JSON calls: validate answers the API's own problems, save creates a rule or
publishes a version (a refused save changes nothing), the dry run evaluates the draft with the saved rules of
its trigger and writes nothing, sample members are found by name; CSRF, roles and sessions are enforced."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from api.console.auth import home_for
from models import Rule
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, assert_error, audit_rows, member_body
from tests.support.rules import create_rule, footprint, new_scope, scoped


def _rule(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"builder_{uuid.uuid4().hex[:10]}",
        "trigger": {"event": "order_completed"},
        "conditions": {"all": [{"field": "lifetime_spend", "op": "gte", "value": 500}]},
        "actions": [{"grant_points": {"points": 50}}],
        "priority": 100,
        # Saved rules stay disabled so they never fire for other tests' orders.
        "enabled": False,
    }
    body.update(overrides)
    return body


class Builder:
    """A signed-in console with its CSRF token, calling the builder's JSON endpoints as the page does."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.token = client, token

    async def send(self, method: str, url: str, body: Any, *, token: str | None = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.token if token is None else token}
        return await self.client.request(method, url, json=body, headers=headers)


@asynccontextmanager
async def builder(app: FastAPI, secret: str) -> AsyncIterator[Builder]:
    async with console_client(app) as client:
        await sign_in(client, secret)
        page = await client.get("/console/rules/new")
        assert page.status_code == 200, page.text
        yield Builder(client, csrf(page.text))


async def _rule_count(sessions: Sessions, name: str) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(Rule).where(Rule.name == name))).scalar_one()


async def test_the_new_rule_page_carries_the_builder_and_its_json_tab(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        listing = await client.get("/console/rules")
        assert 'href="/console/rules/new"' in listing.text
        page = await client.get("/console/rules/new")
    assert page.status_code == 200
    assert 'id="rule-builder"' in page.text
    assert 'id="rule-builder-data"' in page.text
    assert "Advanced (JSON)" in page.text
    assert '<meta name="csrf-token"' in page.text


async def test_validate_gives_the_apis_problems_by_field(app: FastAPI, make_key: KeyMaker, marketer: ApiClient) -> None:
    good = _rule()
    bad = _rule(
        actions=[{"grant_points": {"points": 0}}, {"issue_coupon": {"template": "no_such_coupon"}}],
        conditions={"all": [{"field": "event.new_tier", "op": "eq", "value": "gold"}]},
    )
    async with builder(app, await make_key(Role.MARKETER)) as console:
        ok = await console.send("POST", "/console/api/rules/validate", good)
        schema = await console.send("POST", "/console/api/rules/validate", bad)
        references = await console.send("POST", "/console/api/rules/validate", {**bad, "actions": bad["actions"][1:]})
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "problems": []}
    assert schema.json()["valid"] is False
    assert {p["field"] for p in schema.json()["problems"]} >= {"body.actions.0.grant_points.points"}
    by_field = {p["field"]: p["message"] for p in references.json()["problems"]}
    assert by_field["body.actions.0.issue_coupon.template"] == "unknown coupon template 'no_such_coupon'"
    assert "order_completed has no event.new_tier" in by_field["body.conditions.all.0.field"]
    # The same problems as the HTTP API gives.
    for body, answer in ((bad, schema), ({**bad, "actions": bad["actions"][1:]}, references)):
        api = await marketer.post("/api/v1/rules/validate", json=body)
        assert api.json() == answer.json()


async def test_save_creates_and_publishes_and_a_refused_save_changes_nothing(
    app: FastAPI, http: httpx.AsyncClient, make_key: KeyMaker, sessions: Sessions, marketer: ApiClient
) -> None:
    body = _rule()
    async with builder(app, await make_key(Role.MARKETER)) as console:
        refused = await console.send("POST", "/console/api/rules", {**body, "priority": -1})
        assert assert_error(refused, 422, "invalid_rule")["details"][0]["field"] == "body.priority"
        assert await _rule_count(sessions, body["name"]) == 0

        created = await console.send("POST", "/console/api/rules", body)
        assert created.status_code == 201, created.text
        saved = created.json()
        assert (saved["name"], saved["version"], saved["enabled"]) == (body["name"], 1, False)
        assert saved["url"].startswith(f"/console/rules/{saved['id']}?flash=")
        again = await console.send("POST", "/console/api/rules", body)
        assert assert_error(again, 409, "rule_exists")["details"] == [{"field": "body.name", "message": "taken"}]

        changed = {**body, "priority": 40, "actions": [{"grant_points": {"per_currency_unit": "2"}}]}
        published = await console.send("PUT", f"/console/api/rules/{saved['id']}", changed)
        assert published.status_code == 200, published.text
        assert published.json()["version"] == 2
        renamed = await console.send("PUT", f"/console/api/rules/{saved['id']}", {**changed, "name": "other_name"})
        assert assert_error(renamed, 422, "invalid_rule")["details"][0]["field"] == "body.name"
        unknown = await console.send("PUT", f"/console/api/rules/{uuid.uuid4()}", changed)
        assert_error(unknown, 404, "rule_not_found")
        page = await console.client.get(saved["url"])
        assert "Rule created." in page.text

    stored = (await marketer.get(f"/api/v1/rules/{saved['id']}")).json()
    assert (stored["current_version"], stored["priority"], stored["enabled"]) == (2, 40, False)
    assert stored["definition"]["actions"] == [{"grant_points": {"per_currency_unit": "2"}}]
    rows = await audit_rows(sessions, saved["id"])
    assert [(r["action"], r["details"]["via"]) for r in rows] == [
        ("rule.create", "console"),
        ("rule.publish", "console"),
    ]


async def test_json_calls_need_the_csrf_header_a_json_object_a_session_and_the_rules_page(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    body = _rule()
    async with builder(app, await make_key(Role.MARKETER)) as console:
        for token in ("", "forged"):
            answer = await console.send("POST", "/console/api/rules", body, token=token)
            assert_error(answer, 403, "csrf_rejected")
        not_json = await console.client.post(
            "/console/api/rules", content=b"{oops", headers={"X-CSRF-Token": console.token}
        )
        assert_error(not_json, 400, "malformed_json")
        assert_error(await console.send("POST", "/console/api/rules/validate", [1, 2]), 400, "malformed_json")
        bad_id = await console.send("PUT", "/console/api/rules/not-a-uuid", body)
        assert bad_id.status_code == 422
    assert await _rule_count(sessions, body["name"]) == 0

    async with console_client(app) as anonymous:
        for method, url in (("POST", "/console/api/rules"), ("POST", "/console/api/rules/dry-run")):
            assert_error(await anonymous.request(method, url, json=body), 401, "unauthorized")
        assert_error(await anonymous.get("/console/api/rules/members?q=x"), 401, "unauthorized")
    for role in (Role.APPROVER, Role.OPS):
        async with console_client(app) as client:
            await sign_in(client, await make_key(role))
            token = csrf((await client.get(home_for(role.value))).text)
            for method, url in (("POST", "/console/api/rules"), ("POST", "/console/api/rules/validate")):
                answer = await client.request(method, url, json=body, headers={"X-CSRF-Token": token})
                assert_error(answer, 403, "forbidden")
            assert_error(await client.get("/console/api/rules/members?q=x"), 403, "forbidden")
            assert (await client.get("/console/rules/new")).status_code == 403
    assert await _rule_count(sessions, body["name"]) == 0


async def test_the_dry_run_shows_the_draft_firing_and_why_the_others_do_not_and_writes_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions, marketer: ApiClient, shop: ApiClient
) -> None:
    scope = new_scope()
    name = f"Chen Jing {uuid.uuid4().hex[:6]}"
    member = (await shop.post("/api/v1/members", json={**member_body(name=name), "tags": [scope]})).json()
    other = await create_rule(
        marketer,
        _rule(conditions=scoped(new_scope()), priority=10, enabled=True, actions=[{"grant_points": {"points": 5}}]),
    )
    draft = _rule(conditions=scoped(scope), actions=[{"grant_points": {"per_currency_unit": "1.5"}}])
    sample = {"trigger": "order_completed", "member_id": member["id"], "amount": "129.90", "currency": "CNY"}
    before = await footprint(sessions, member["id"])
    async with builder(app, await make_key(Role.MARKETER)) as console:
        found = await console.client.get("/console/api/rules/members", params={"q": name})
        assert [m["id"] for m in found.json()["members"]] == [member["id"]]
        assert (await console.client.get("/console/api/rules/members")).status_code == 422

        ran = await console.send("POST", "/console/api/rules/dry-run", {"event": sample, "rule": draft})
        assert ran.status_code == 200, ran.text
        verdicts = {v["name"]: v for v in ran.json()["verdicts"]}
        mine = verdicts[draft["name"]]
        assert (mine["draft"], mine["status"], mine["rule_id"]) == (True, "would_fire", None)
        assert mine["actions"] == [{"action": "grant_points", "points": 194}]
        theirs = verdicts[other["name"]]
        assert (theirs["draft"], theirs["status"], theirs["rule_id"]) == (False, "condition_false", other["id"])
        assert theirs["reason"].startswith("conditions.all.0: tags contains")

        wrong = await console.send(
            "POST", "/console/api/rules/dry-run", {"event": {**sample, "trigger": "checked_in"}, "rule": draft}
        )
        assert assert_error(wrong, 422)["details"][0]["field"] == "body.rule.trigger.event"
        broken = await console.send(
            "POST", "/console/api/rules/dry-run", {"event": sample, "rule": {**draft, "priority": "high"}}
        )
        assert assert_error(broken, 422, "invalid_rule")["details"][0]["field"] == "body.rule.priority"
        negative = await console.send("POST", "/console/api/rules/dry-run", {"event": {**sample, "amount": "-1"}})
        assert assert_error(negative, 422, "invalid_sample")["details"][0]["field"] == "body.event.amount"
        stranger = await console.send(
            "POST", "/console/api/rules/dry-run", {"event": {**sample, "member_id": str(uuid.uuid4())}}
        )
        assert stranger.status_code == 404
        assert_error(await console.send("POST", "/console/api/rules/dry-run", {"rule": draft}), 422, "invalid_sample")
    assert await footprint(sessions, member["id"]) == before
    assert await _rule_count(sessions, draft["name"]) == 0


async def test_the_json_tab_creates_a_rule_from_the_new_page(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    body = _rule()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        token = csrf((await client.get("/console/rules/new")).text)
        refused = await client.post("/console/rules/new", data={"csrf_token": token, "definition": "{oops"})
        assert refused.status_code == 422
        assert "not valid JSON" in refused.text
        invalid = await client.post(
            "/console/rules/new", data={"csrf_token": token, "definition": '{"name": "x1", "trigger": {}}'}
        )
        assert invalid.status_code == 422
        assert "body.trigger.event" in invalid.text
        assert (await client.post("/console/rules/new", data={"definition": "{}"})).status_code == 403
        made = await client.post("/console/rules/new", data={"csrf_token": token, "definition": json.dumps(body)})
        assert made.status_code == 303
        page = await client.get(made.headers["location"])
        assert "Rule created." in page.text
        assert 'id="rule-builder-data"' in page.text
    assert await _rule_count(sessions, body["name"]) == 1
