"""The console over HTTP (no browser): sign-in and sessions, CSRF, role gating, and every page with real data."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.console import auth
from core.settings import Settings
from models import ApiKey, JourneyVersion, StaffTask
from services import journeys, rules
from services.journeys import tasks
from services.loyalty import ledger
from services.platform import api_keys
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.conftest import KeyMaker
from tests.support.console import console_client, csrf, login_token, sign_in
from tests.support.helpers import ApiClient, audit_rows, member_body, order_body, without_via

Sessions = async_sessionmaker[AsyncSession]


async def test_sign_in_and_out(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        first = await client.get("/console/members?q=x")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/login?next=/console/members%3Fq%3Dx"
        bad = await sign_in(client, "mf_not-a-real-key")
        assert bad.status_code == 401
        assert "not valid or was revoked" in bad.text
        assert auth.COOKIE not in client.cookies
        signed = await sign_in(client, await make_key(Role.OPS))
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/console" in cookie
        page = await client.get("/console")
        assert page.status_code == 200
        assert "<h1>Dashboard</h1>" in page.text
        # Signing out needs the session's CSRF token like every other form.
        assert (await client.post("/console/logout", data={"csrf_token": "forged"})).status_code == 403
        out = await client.post("/console/logout", data={"csrf_token": csrf(page.text)})
        assert out.status_code == 303
        assert (await client.get("/console")).status_code == 303
        # The flash after signing out is signed: a crafted link cannot make the console say something else.
        signed_out = await client.get(out.headers["location"])
        assert '<p class="flash" role="status">Signed out.</p>' in signed_out.text
        forged = await client.get("/console/login?flash=Your+key+expired%2C+paste+it+at+evil.example&fs=x")
        assert "evil.example" not in forged.text
        assert forged.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in forged.headers["content-security-policy"]


async def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(app: FastAPI, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        token = await login_token(client)
        response = await client.post(
            "/console/login", data={"api_key": secret, "login_token": token, "next": "/console/journeys"}
        )
        assert response.headers["location"] == "/console/journeys"
    async with console_client(app) as client:
        token = await login_token(client)
        response = await client.post(
            "/console/login", data={"api_key": secret, "login_token": token, "next": "//evil.example/console"}
        )
        assert response.headers["location"] == "/console"


async def test_the_login_form_needs_its_own_token(app: FastAPI, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        await login_token(client)
        forged = await client.post("/console/login", data={"api_key": secret, "login_token": "guess"})
        assert forged.status_code == 403
        assert auth.COOKIE not in client.cookies
        wrong_type = await client.post("/console/login", json={"api_key": secret})
        assert wrong_type.status_code == 400


async def test_a_tampered_or_expired_cookie_is_no_session(app: FastAPI, settings: Settings, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        assert (await sign_in(client, secret)).status_code == 303
        good = client.cookies[auth.COOKIE]
        assert (await client.get("/console")).status_code == 200
        payload, _, signature = good.rpartition(".")
        key_id = payload.split(".")[1]
        other = uuid.uuid4().hex
        client.cookies.set(auth.COOKIE, good.replace(key_id, other), domain="memberflow.test", path="/console")
        assert (await client.get("/console")).status_code == 303
    assert auth.read_cookie(settings, good) is not None
    assert auth.read_cookie(settings, good[:-2] + ("AA" if not good.endswith("AA") else "BB")) is None
    issued = auth.issue_cookie(settings, uuid.uuid4(), now=1_000_000.0)
    assert auth.read_cookie(settings, issued, now=1_000_000.0 + auth.SESSION_SECONDS - 1) is not None
    assert auth.read_cookie(settings, issued, now=1_000_000.0 + auth.SESSION_SECONDS + 1) is None
    assert signature  # the cookie is signed, not a bare id


async def test_revoking_the_key_ends_its_console_session(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    secret = await make_key(Role.MARKETER)
    async with console_client(app) as client:
        assert (await sign_in(client, secret)).status_code == 303
        assert (await client.get("/console/journeys")).status_code == 200
        async with sessions() as session:
            key = (
                await session.execute(select(ApiKey).where(ApiKey.key_hash == api_keys.hash_secret(secret)))
            ).scalar_one()
            await api_keys.revoke(session, key.id)
            await session.commit()
        assert (await client.get("/console/journeys")).status_code == 303


async def test_each_role_sees_its_own_pages(app: FastAPI, make_key: KeyMaker) -> None:
    expected = {
        Role.MARKETER: (
            {
                "/console",
                "/console/members",
                "/console/campaigns",
                "/console/journeys",
                "/console/rules",
                "/console/messages",
            },
            "/console",
        ),
        Role.APPROVER: ({"/console/inbox", "/console/members"}, "/console/inbox"),
        Role.OPS: ({"/console", "/console/members", "/console/messages", "/console/tasks"}, "/console"),
    }
    pages = [
        "/console",
        "/console/members",
        "/console/inbox",
        "/console/campaigns",
        "/console/journeys",
        "/console/rules",
        "/console/messages",
        "/console/tasks",
    ]
    for role, (allowed, home) in expected.items():
        async with console_client(app) as client:
            signed = await sign_in(client, await make_key(role))
            assert signed.headers["location"] == home
            for path in pages:
                response = await client.get(path)
                if path in allowed:
                    assert response.status_code == 200, (role, path)
                else:
                    assert response.status_code == 403, (role, path)
                    assert "Not allowed" in response.text
                    assert f"({role.value})" in response.text
            nav = (await client.get(home)).text.split("<main>")[0]
            assert ('href="/console/inbox"' in nav) == (role is Role.APPROVER)
    async with console_client(app) as client:
        refused = await sign_in(client, await make_key(Role.INTEGRATION))
        assert refused.status_code == 403
        assert "cannot use the console" in refused.text


async def test_pages_render_the_member_and_escape_what_they_show(
    app: FastAPI, http: httpx.AsyncClient, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    name = f"<script>alert(1)</script> Li {uuid.uuid4().hex[:6]}"
    member = (await shop.post("/api/v1/members", json=member_body(name=name))).json()
    order = order_body(member["id"], amount="1234.50")
    assert (await shop.post("/api/v1/orders", json=order)).status_code in (200, 201)
    adjusted = await admin.post(
        f"/api/v1/members/{member['id']}/points/adjustments", json={"points": 777, "reason": "goodwill <b>bonus</b>"}
    )
    assert adjusted.status_code in (200, 201), adjusted.text
    async with sessions() as session:
        task_id = await tasks.create(
            session,
            member_id=uuid.UUID(member["id"]),
            title="Call back about the order",
            assignee_role="ops",
            due_days=2,
            source_key=f"console-test-{uuid.uuid4()}",
        )
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        found = await client.get("/console/members", params={"q": member["external_id"]})
        assert found.status_code == 200
        assert f'href="/console/members/{member["id"]}"' in found.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in found.text
        assert "<script>alert" not in found.text
        view = await client.get(f"/console/members/{member['id']}")
        assert view.status_code == 200
        assert order["external_id"] in view.text
        assert "1,234.50" in view.text
        assert "goodwill &lt;b&gt;bonus&lt;/b&gt;" in view.text
        assert 'data-available="2011"' in view.text  # 1,234 earned + 777 adjusted
        assert "Call back about the order" in view.text
        assert "<script>alert" not in view.text
        assert (await client.get(f"/console/members/{uuid.uuid4()}")).status_code == 404
        assert (await client.get("/console/members/not-an-id")).status_code == 404
        dashboard = await client.get("/console", params={"from": "2026-01-01", "to": "2026-12-31"})
        assert dashboard.status_code == 200
        for chart in ("tiers", "active", "liability", "rfm", "retention"):
            assert f'data-chart="{chart}"' in dashboard.text
        assert dashboard.text.count("<svg") >= 5
        wrong = await client.get("/console", params={"from": "2026-12-31", "to": "2026-01-01"})
        assert wrong.status_code == 200
        assert "the period starts after it ends" in wrong.text
        messages = await client.get("/console/messages")
        assert messages.status_code == 200
        assert "<th>Suppression / error</th>" in messages.text
        task_page = await client.get("/console/tasks")
        assert "Call back about the order" in task_page.text
        token = csrf(task_page.text)
        done = await client.post(f"/console/tasks/{task_id}", data={"csrf_token": token, "done": "1"})
        assert done.status_code == 303
        async with sessions() as session:
            row = await session.get(StaffTask, task_id)
            assert row is not None
            assert (row.status, row.done_by is not None) == ("done", True)
        assert "Call back about the order" not in (await client.get("/console/tasks")).text
        again = await client.post(f"/console/tasks/{task_id}", data={"csrf_token": token, "done": "0"})
        assert again.status_code == 303
        async with sessions() as session:
            row = await session.get(StaffTask, task_id)
            assert row is not None
            assert row.status == "open"
        forged = await client.post(f"/console/tasks/{task_id}", data={"done": "1"})
        assert forged.status_code == 403
        assert "security token" in forged.text
        async with sessions() as session:
            row = await session.get(StaffTask, task_id)
            assert row is not None
            assert row.status == "open"


async def test_journey_pages_show_steps_and_problems_inline(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = f"console_{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        welcome = dict((await journeys.get_version(session, "welcome")).definition)
        definition = {**welcome, "kind": kind, "name": "Console test journey", "trigger": None}
        await journeys.create(session, journeys.parse(definition), actor=Actor.system("test"))
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        listing = await client.get("/console/journeys")
        assert listing.status_code == 200
        assert f'href="/console/journeys/{kind}"' in listing.text
        page = await client.get(f"/console/journeys/{kind}")
        assert page.status_code == 200
        assert 'id="step-' in page.text
        assert "Versions" in page.text
        token = csrf(page.text)
        url = f"/console/journeys/{kind}"
        not_json = await client.post(url, data={"csrf_token": token, "definition": "{oops"})
        assert not_json.status_code == 422
        assert "not valid JSON" in not_json.text
        broken = {**definition, "steps": [{"id": "only", "send": {"channel": "pigeon", "template": "welcome"}}]}
        bad = await client.post(url, data={"csrf_token": token, "definition": json.dumps(broken)})
        assert bad.status_code == 422
        assert "body.steps.0.send.channel" in bad.text
        assert 'aria-invalid="true"' in bad.text
        assert "pigeon" in bad.text  # the draft stays in the form to be fixed
        unknown = {**definition, "steps": [{"id": "only", "send": {"channel": "email", "template": "nope_nope"}}]}
        problem = await client.post(url, data={"csrf_token": token, "definition": json.dumps(unknown)})
        assert problem.status_code == 422
        assert "nope_nope" in problem.text
        async with sessions() as session:
            assert (await journeys.get_journey(session, kind)).current_version == 1
        renamed = {**definition, "name": "Console test journey, renamed"}
        published = await client.post(url, data={"csrf_token": token, "definition": json.dumps(renamed)})
        assert published.status_code == 303
        async with sessions() as session:
            row = await session.get(JourneyVersion, (kind, 2))
            assert row is not None
            assert row.definition["name"] == renamed["name"]
        old = await client.get(f"{url}?version=1")
        assert old.status_code == 200
        assert "Showing version 1" in old.text
        assert "Console test journey" in old.text
        assert (await client.get("/console/journeys/no_such_journey")).status_code == 404
        off = await client.post(f"{url}/disable", data={"csrf_token": token})
        assert off.status_code == 303
        async with sessions() as session:
            assert not (await journeys.get_journey(session, kind)).enabled
        assert (await client.post(f"{url}/enable", data={"csrf_token": "no"})).status_code == 403


def test_charts_escape_their_labels_and_draw_the_values() -> None:
    from decimal import Decimal

    from api.console import charts

    drawn = charts.bars([("<b>gold</b>", 3), ("silver", 1)], label='tiers "x"')
    assert "&lt;b&gt;gold&lt;/b&gt;" in drawn
    assert "<b>" not in drawn
    assert 'aria-label="tiers &#34;x&#34;"' in drawn
    assert drawn.count("<rect") == 2
    assert "No data" in charts.bars([("a", 0)], label="empty")
    heat = charts.heatmap([("2026-01", 10, [Decimal("1"), Decimal("0.25")])], label="cohorts")
    assert ">100</text>" in heat
    assert ">25</text>" in heat
    assert "2026-01 (10)" in heat
    line = charts.line([("2026-01", 5), ("2026-02", 10)], label="active")
    assert "<title>2026-02: 10</title>" in line


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


async def test_the_ledger_pages_back_without_gaps_or_repeats(
    app: FastAPI, shop: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    member_id = uuid.UUID(member["id"])
    async with sessions() as session:
        for n in range(1, 31):
            await ledger.credit(
                session,
                member_id=member_id,
                points=n,
                kind=ledger.TxKind.ADJUST,
                reason=f"line number {n:02d}",
                idempotency_key=f"console-paging-{member_id}-{n}",
                expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.OPS))
        first = await client.get(f"/console/members/{member_id}")
        shown_first = re.findall(r"line number (\d\d)", first.text)
        assert shown_first == [f"{n:02d}" for n in range(30, 5, -1)]  # newest 25
        older = re.search(r'href="(/console/members/[^"]+\?cursor=[\w-]+)#ledger"', first.text)
        assert older is not None
        second = await client.get(older.group(1))
        assert re.findall(r"line number (\d\d)", second.text) == ["05", "04", "03", "02", "01"]
        assert "?cursor=" not in second.text.split('id="ledger"')[1].split("<h2>")[0]
