"""The journey editor's JSON calls (/console/api/journeys/...): validation gives exactly the API's problems; drafts
save, reopen on the journey page and are discarded; publishing creates a journey or a version with its node
positions and drops the draft, and a failed publish changes nothing; versions compare; a send step's template
previews for a placeholder member or a real one; and the session, role and CSRF token are checked."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from models import JourneyDraft, JourneyVersion
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, member_body

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def _cart(kind: str, **changes: Any) -> dict[str, Any]:
    """The abandoned-cart journey's shape under another kind, every route explicit, as the editor writes it."""
    return {
        "kind": kind,
        "name": "Cart rescue",
        "reentry": "after_exit",
        "exit_on": ["order_completed"],
        "steps": [
            {"id": "grace", "wait": {"hours": 2}, "next": "nudge"},
            {
                "id": "nudge",
                "send": {"channel": "sms", "template": "cart_reminder", "coupon": "cart_5"},
                "next": "done",
            },
            {"id": "done", "exit": {}},
        ],
        **changes,
    }


async def _editor(app: FastAPI, secret: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    # Its own cookie jar, like console_client's; closed with the test's event loop.
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memberflow.test")
    await sign_in(http, secret)
    page = await http.get("/console/journeys")
    found = _META.search(page.text)
    assert found is not None, page.text[:500]
    return http, {"X-CSRF-Token": found.group(1)}


async def _counts(sessions: Sessions, kind: str) -> tuple[int, int]:
    async with sessions() as session:
        versions = await session.scalar(select(func.count()).where(JourneyVersion.kind == kind))
        drafts = await session.scalar(select(func.count()).where(JourneyDraft.kind == kind))
    return int(versions or 0), int(drafts or 0)


async def test_validation_gives_the_same_problems_as_the_api(
    app: FastAPI, make_key: KeyMaker, marketer: ApiClient
) -> None:
    http, csrf = await _editor(app, await make_key(Role.MARKETER))
    broken = _cart(f"ed_{uuid.uuid4().hex[:8]}")
    broken["steps"][0] = {
        "id": "grace",
        "wait_for": {"event": "order_completed"},
        "on_event": "done",
        "on_timeout": "nudge",
    }
    broken["steps"][1]["send"]["template"] = "no_such_template"
    schema_broken = _cart("ed_x", steps=[{"id": "Bad Id", "wait": {}}])
    for definition in (broken, schema_broken, _cart("ed_ok")):
        ours = await http.post("/console/api/journeys/validate", json={"definition": definition}, headers=csrf)
        theirs = await marketer.post("/api/v1/journeys/validate", json=definition)
        assert ours.status_code == 200, ours.text
        assert ours.json() == theirs.json()
    answer = (await http.post("/console/api/journeys/validate", json={"definition": broken}, headers=csrf)).json()
    assert {p["field"] for p in answer["problems"]} == {"body.steps.0.wait_for", "body.steps.1.send.template"}
    missing = await http.post("/console/api/journeys/validate", json={"definitions": {}}, headers=csrf)
    assert missing.status_code == 422
    assert missing.json()["error"]["details"] == [{"field": "body", "message": "definition must be a JSON object"}]


async def test_session_role_and_csrf_are_checked(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    kind = f"ed_{uuid.uuid4().hex[:8]}"
    body = {"definition": _cart(kind), "layout": {}}
    async with console_client(app) as anonymous:
        answer = await anonymous.put(f"/console/api/journeys/{kind}/draft", json=body)
        assert answer.status_code == 401
    http, csrf = await _editor(app, await make_key(Role.MARKETER))
    no_token = await http.put(f"/console/api/journeys/{kind}/draft", json=body)
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (403, "csrf_rejected")
    wrong = await http.post("/console/api/journeys", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    not_json = await http.put(f"/console/api/journeys/{kind}/draft", content=b"{oops", headers=csrf)
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "malformed_json")
    approver, approver_csrf = await _editor(app, await make_key(Role.APPROVER))
    refused = await approver.post("/console/api/journeys", json=body, headers=approver_csrf)
    assert refused.status_code == 403
    assert await _counts(sessions, kind) == (0, 0)


async def test_a_draft_saves_reopens_on_the_page_and_is_discarded(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    http, csrf = await _editor(app, await make_key(Role.MARKETER))
    kind = f"ed_{uuid.uuid4().hex[:8]}"
    layout = {"grace": {"x": 10, "y": 20.5}, "nudge": {"x": 10, "y": 200}}
    unfinished = _cart(kind, steps=[{"id": "grace", "wait": {"hours": 2}}, {"id": "nudge", "send": {"channel": "sms"}}])
    saved = await http.put(
        f"/console/api/journeys/{kind}/draft", json={"definition": unfinished, "layout": layout}, headers=csrf
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["definition"] == unfinished  # a draft is kept as it stands, even when it does not validate
    assert saved.json()["layout"] == layout
    assert saved.json()["base_version"] is None
    listing = await http.get("/console/journeys")
    assert f"/console/journeys/new?draft={kind}" in listing.text
    reopened = await http.get(f"/console/journeys/new?draft={kind}")
    assert 'id="draft-note"' in reopened.text
    assert '"nudge"' in reopened.text

    bad = [
        ({"definition": unfinished, "layout": {"grace": {"x": "left", "y": 0}}}, "layout.grace.x"),
        ({"definition": unfinished, "layout": {"Bad Id": {"x": 0, "y": 0}}}, "layout.Bad Id.[key]"),
        ({"definition": {**unfinished, "kind": "another_kind"}, "layout": {}}, "body.kind"),
        ({"definition": [], "layout": {}}, "body"),
    ]
    for body, field in bad:
        answer = await http.put(f"/console/api/journeys/{kind}/draft", json=body, headers=csrf)
        assert answer.status_code == 422, answer.text
        assert field in [d["field"] for d in answer.json()["error"]["details"]], answer.json()
    async with sessions() as session:
        draft = await session.get(JourneyDraft, kind)
        assert draft is not None
        assert draft.layout == layout  # the refused saves changed nothing

    gone = await http.request("DELETE", f"/console/api/journeys/{kind}/draft", json={}, headers=csrf)
    assert gone.status_code == 200
    again = await http.request("DELETE", f"/console/api/journeys/{kind}/draft", json={}, headers=csrf)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "draft_not_found")


async def test_publish_creates_then_versions_with_positions_a_failed_one_changes_nothing_and_versions_compare(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    http, csrf = await _editor(app, await make_key(Role.MARKETER))
    kind = f"ed_{uuid.uuid4().hex[:8]}"
    layout = {
        "grace": {"x": 0, "y": 0},
        "nudge": {"x": 0, "y": 160},
        "done": {"x": 0, "y": 320},
        "gone": {"x": 1, "y": 1},
    }
    created = await http.post("/console/api/journeys", json={"definition": _cart(kind), "layout": layout}, headers=csrf)
    assert created.status_code == 201, created.text
    assert created.json() == {"kind": kind, "version": 1, "url": f"/console/journeys/{kind}"}
    twice = await http.post("/console/api/journeys", json={"definition": _cart(kind), "layout": {}}, headers=csrf)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "journey_exists")

    changed = _cart(kind)
    changed["steps"][0]["wait"] = {"hours": 3}
    await http.put(f"/console/api/journeys/{kind}/draft", json={"definition": changed, "layout": layout}, headers=csrf)
    page = await http.get(f"/console/journeys/{kind}")
    assert 'id="draft-note"' in page.text
    assert "Draft by" in page.text

    broken = _cart(kind)
    broken["steps"][1]["send"]["template"] = "no_such_template"
    for body, status in (
        ({"definition": broken, "layout": layout}, 422),
        ({"definition": changed, "layout": {"grace": {"x": None, "y": 0}}}, 422),
        ({"definition": {**changed, "kind": "ed_other"}, "layout": {}}, 422),
    ):
        refused = await http.post(f"/console/api/journeys/{kind}/versions", json=body, headers=csrf)
        assert refused.status_code == status, refused.text
    refused = await http.post(f"/console/api/journeys/{kind}/versions", json={"definition": broken}, headers=csrf)
    assert refused.json()["error"]["details"] == [
        {"field": "body.steps.1.send.template", "message": "unknown sms template 'no_such_template'"}
    ]
    assert await _counts(sessions, kind) == (1, 1)  # versions and draft untouched
    missing = await http.post(
        "/console/api/journeys/ed_nobody_here/versions", json={"definition": changed}, headers=csrf
    )
    assert missing.status_code == 404

    published = await http.post(
        f"/console/api/journeys/{kind}/versions", json={"definition": changed, "layout": layout}, headers=csrf
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    assert await _counts(sessions, kind) == (2, 0)  # the draft went with the publish
    async with sessions() as session:
        row = await session.get(JourneyVersion, (kind, 2))
        assert row is not None
        assert row.layout == {k: v for k, v in layout.items() if k != "gone"}  # positions of its own steps only
        assert row.definition["steps"][0] == {
            "id": "grace",
            "wait": {"days": 0, "hours": 3, "minutes": 0},
            "next": "nudge",
        }

    compared = await http.get(f"/console/api/journeys/{kind}/diff?from=1&to=2")
    assert compared.status_code == 200, compared.text
    data = compared.json()
    assert [(s["id"], s["status"], s["changed"]) for s in data["steps"]] == [
        ("grace", "changed", ["wait.hours"]),
        ("nudge", "same", []),
        ("done", "same", []),
    ]
    assert {e["status"] for e in data["edges"]} == {"same"}
    assert data["from"]["version"] == 1
    assert data["to"]["layout"]["grace"] == {"x": 0.0, "y": 0.0}
    for query, status in (("from=1&to=9", 404), ("from=0&to=2", 422), ("to=2", 422)):
        assert (await http.get(f"/console/api/journeys/{kind}/diff?{query}")).status_code == status
    version_page = await http.get(f"/console/journeys/{kind}?version=1&compare=2")
    assert '"compare": 2' in version_page.text


async def test_a_send_steps_template_previews_for_a_placeholder_or_a_real_member(
    app: FastAPI, make_key: KeyMaker, shop: ApiClient
) -> None:
    http, csrf = await _editor(app, await make_key(Role.MARKETER))
    base = {"channel": "email", "template": "welcome", "coupon": "new_member_10"}
    english = await http.post("/console/api/templates/preview", json={**base, "locale": "en"}, headers=csrf)
    assert english.status_code == 200, english.text
    assert english.json()["locale"] == "en"
    assert "Alex Sample" in english.json()["body"]
    assert "SAMPLE-CODE" in english.json()["body"]
    assert "preview-unsubscribe-link" in english.json()["body"]
    chinese = await http.post("/console/api/templates/preview", json={**base, "locale": "zh-CN"}, headers=csrf)
    assert chinese.json()["locale"] == "zh-CN"
    assert "示例会员" in chinese.json()["body"]
    member = (await shop.post("/api/v1/members", json=member_body(name="Chen Jie"))).json()
    real = await http.post(
        "/console/api/templates/preview",
        json={"channel": "sms", "template": "cart_reminder", "coupon": "cart_5", "member_id": member["id"]},
        headers=csrf,
    )
    assert real.status_code == 200, real.text
    assert real.json()["subject"] is None
    assert "SAMPLE-CODE" in real.json()["body"]
    for body, status in (
        ({"channel": "email", "template": "no_such_template"}, 404),
        ({"channel": "email", "template": "welcome", "coupon": "no_such_coupon"}, 404),
        ({"channel": "email", "template": "welcome", "member_id": str(uuid.uuid4())}, 404),
        ({"channel": "fax", "template": "welcome"}, 422),
        ({"channel": "email", "template": "welcome", "locale": "english please"}, 422),
    ):
        answer = await http.post("/console/api/templates/preview", json=body, headers=csrf)
        assert answer.status_code == status, (body, answer.text)
    field = (
        await http.post("/console/api/templates/preview", json={"channel": "fax", "template": "welcome"}, headers=csrf)
    ).json()
    assert field["error"]["details"][0]["field"] == "body.channel"
