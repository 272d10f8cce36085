"""Console pages with real data: the member (escaped), journeys with their problems, charts, the ledger's pages."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from api.console import assets
from models import JourneyVersion, StaffTask
from services import journeys
from services.journeys import tasks
from services.loyalty import ledger
from services.platform.api_keys import Role
from services.platform.audit import Actor
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, member_body, order_body


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


async def test_the_journey_page_embeds_its_canvas_graph_as_escaped_json(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    kind = f"canvas_{uuid.uuid4().hex[:8]}"
    title = "</script><script>alert(1)</script> call & 'check'"
    definition = {
        "kind": kind,
        "name": "Canvas escaping",
        "steps": [
            {"id": "call", "create_task": {"title": title}},
            {"id": "done", "exit": {}},
        ],
    }
    async with sessions() as session:
        await journeys.create(session, journeys.parse(definition), actor=Actor.system("test"))
        await session.commit()
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        page = await client.get(f"/console/journeys/{kind}")
    assert page.status_code == 200
    assert str(assets.bundle("canvas")) in page.text
    assert re.search(r'<script type="module" src="/console/static/build/canvas-[\w-]+\.js"></script>', page.text)
    assert "<script>alert(1)" not in page.text  # neither in the JSON nor in the step list
    embedded = re.search(r'<script type="application/json" id="journey-graph">(.*?)</script>', page.text, re.S)
    assert embedded is not None
    graph = json.loads(embedded.group(1))
    assert graph["kind"] == kind
    assert [(n["id"], n["kind"], n["summary"]) for n in graph["nodes"]] == [
        ("call", "create_task", f"Task for marketer: {title}"),
        ("done", "exit", "Exit"),
    ]
    assert graph["nodes"][0]["counts"] == {"now": 0, "passed": 0, "ended": 0}
    assert graph["edges"] == [{"source": "call", "target": "done", "label": "next"}]
