"""The console's rule pages: read, edit (refusing bad drafts), switch, and the same audit rows as the API."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI

from services import rules
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, audit_rows, without_via


async def test_rule_pages_read_edit_and_switch(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    name = f"console_rule_{uuid.uuid4().hex[:8]}"
    definition = {
        "name": name,
        "trigger": {"event": "checked_in"},
        "actions": [{"tag": {"add": ["checked_in_once"]}}],
        "priority": 500,
    }
    async with sessions() as session:
        rule = await rules.create(session, rules.parse(definition), actor=Actor.system("test"))
        rule_id = rule.id
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        listing = await client.get("/console/rules")
        assert listing.status_code == 200
        assert f'href="/console/rules/{rule_id}"' in listing.text
        page = await client.get(f"/console/rules/{rule_id}")
        assert page.status_code == 200
        assert "<code>checked_in</code>" in page.text
        assert "checked_in_once" in page.text
        token = csrf(page.text)
        for draft, says in (
            ("{oops", "not valid JSON"),
            ("[1, 2]", "must be a JSON object"),
            ("x" * 100_001, "at most"),
        ):
            refused = await client.post(f"/console/rules/{rule_id}", data={"csrf_token": token, "definition": draft})
            assert refused.status_code == 422
            assert says in refused.text
        broken = {**definition, "actions": [{"grant_points": {"points": -5}}]}
        bad = await client.post(
            f"/console/rules/{rule_id}", data={"csrf_token": token, "definition": json.dumps(broken)}
        )
        assert bad.status_code == 422
        assert "body.actions.0" in bad.text
        async with sessions() as session:
            assert (await rules.get_rule(session, rule_id)).current_version == 1
        better = {**definition, "priority": 400}
        ok = await client.post(
            f"/console/rules/{rule_id}", data={"csrf_token": token, "definition": json.dumps(better)}
        )
        assert ok.status_code == 303
        off = await client.post(f"/console/rules/{rule_id}/disable", data={"csrf_token": token})
        assert off.status_code == 303
        async with sessions() as session:
            stored = await rules.get_rule(session, rule_id)
            assert (stored.current_version, stored.priority, stored.enabled) == (2, 400, False)
        assert (await client.post(f"/console/rules/{rule_id}/enable", data={})).status_code == 403
        assert (await client.get(f"/console/rules/{uuid.uuid4()}")).status_code == 404


async def test_the_api_and_the_console_write_the_same_audit_rows_for_a_rule(
    app: FastAPI, http: httpx.AsyncClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    definition = {
        "name": f"audited_rule_{uuid.uuid4().hex[:8]}",
        "trigger": {"event": "checked_in"},
        "actions": [{"tag": {"add": ["audited"]}}],
        "priority": 500,
    }
    secret = await make_key(Role.MARKETER)
    api = ApiClient(http, secret)
    rule_id = (await api.post("/api/v1/rules", json=definition)).json()["id"]
    assert (await api.put(f"/api/v1/rules/{rule_id}", json=definition)).status_code == 200
    assert (await api.post(f"/api/v1/rules/{rule_id}/disable")).status_code == 200
    assert (await api.post(f"/api/v1/rules/{rule_id}/enable")).status_code == 200
    by_api = await audit_rows(sessions, rule_id)
    async with console_client(app) as client:
        await sign_in(client, secret)
        token = csrf((await client.get(f"/console/rules/{rule_id}")).text)
        published = await client.post(
            f"/console/rules/{rule_id}", data={"csrf_token": token, "definition": json.dumps(definition)}
        )
        assert published.status_code == 303
        assert (await client.post(f"/console/rules/{rule_id}/disable", data={"csrf_token": token})).status_code == 303
        assert (await client.post(f"/console/rules/{rule_id}/enable", data={"csrf_token": token})).status_code == 303
    by_console = (await audit_rows(sessions, rule_id))[len(by_api) :]

    assert [row["action"] for row in by_api] == ["rule.create", "rule.publish", "rule.disable", "rule.enable"]
    assert by_api[2]["details"] == {"name": definition["name"], "version": 2, "enabled": False, "via": "api"}
    assert by_api[0]["actor_key_id"] is not None
    # The same actions through the console: the same rows but for the channel (and the version published).
    assert {row["details"]["via"] for row in by_console} == {"console"}
    assert [row["details"]["version"] for row in by_console] == [3, 3, 3]
    for api_row, console_row in zip(without_via(by_api[1:]), without_via(by_console), strict=True):
        assert {**console_row, "details": {**console_row["details"], "version": 2}} == api_row
