"""The segment builder's console calls and pages: the live preview (count, sample with names and 360 links), saving
and deleting with the API's exact 4xx answers and nothing half-saved, the list with the campaigns that use each
segment, roles, CSRF and the audit rows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from models import Segment
from services.platform.api_keys import Role
from tests.support.campaigns import add_journey
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, audit_rows, without_via
from tests.support.segments import PEOPLE, Population, insert_members

PREVIEW = "/console/api/segments/preview"
SAVE = "/console/api/segments"


@pytest_asyncio.fixture(scope="module")
async def people(sessions: Sessions) -> Population:
    """The five segment-test members, named, under a tag of this module's own."""
    tag = f"conseg_{uuid.uuid4().hex[:10]}"
    named = {name: {**facts, "name": f"{name.title()} Console"} for name, facts in PEOPLE.items()}
    async with sessions() as session:
        ids = await insert_members(session, named, tag=tag)
        await session.commit()
    return Population(tag, ids)


def _mine(tag: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"all": [{"tags": {"any": [tag]}}, *conditions]}


async def _signed_in(client: httpx.AsyncClient, make_key: KeyMaker, role: Role = Role.MARKETER) -> dict[str, str]:
    """Sign in and return the headers of a console JSON call (the session's CSRF token)."""
    await sign_in(client, await make_key(role))
    page = await client.get("/console/segments/new")
    assert page.status_code == 200, page.text
    return {"X-CSRF-Token": csrf(page.text)}


async def _named(sessions: Sessions, name: str) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).where(Segment.name == name))).scalar_one())


def _name() -> str:
    return f"Console segment {uuid.uuid4().hex[:8]}"


async def test_the_preview_counts_and_lists_the_newest_matches_with_their_360_links(
    app: FastAPI, make_key: KeyMaker, people: Population
) -> None:
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        everyone = await client.post(PREVIEW, json={"definition": _mine(people.tag)}, headers=headers)
        assert everyone.status_code == 200, everyone.text
        assert everyone.json()["count"] == 5
        gold = _mine(people.tag, {"tier": ["gold"]}, {"lifetime_spend": {"gte": "2000"}})
        found = await client.post(PREVIEW, json={"definition": gold}, headers=headers)
        assert found.status_code == 200, found.text
        eve = str(people.ids["eve"])
        assert found.json() == {
            "count": 1,
            "sample": [
                {
                    "id": eve,
                    "name": "Eve Console",
                    "external_id": found.json()["sample"][0]["external_id"],
                    "tier": "gold",
                    "lifetime_spend": "5000.00",
                    "order_count": 20,
                    "url": f"/console/members/{eve}",
                }
            ],
        }
        nested = _mine(people.tag, {"any": [{"tier": ["silver"]}, {"not": {"lifetime_spend": {"gt": "0"}}}]})
        both = (await client.post(PREVIEW, json={"definition": nested, "sample": 1}, headers=headers)).json()
        assert both["count"] == 2  # bob (silver) and dan (never spent)
        assert [m["name"] for m in both["sample"]] == ["Dan Console"]  # the newest one only


async def test_an_invalid_draft_is_the_apis_422_naming_each_field(
    app: FastAPI, make_key: KeyMaker, marketer: ApiClient, people: Population
) -> None:
    negative = {"definition": _mine(people.tag, {"lifetime_spend": {"gte": -5}})}
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        console = await client.post(PREVIEW, json=negative, headers=headers)
        api = await marketer.post("/api/v1/segments/preview", json=negative)
        assert console.status_code == api.status_code == 422
        assert console.json() == api.json()
        assert console.json()["error"]["details"][0]["field"] == "body.definition.all.1.lifetime_spend.gte"
        unknown = await client.post(
            PREVIEW, json={"definition": _mine(people.tag, {"tier": ["platinum_x"]})}, headers=headers
        )
        assert unknown.status_code == 422
        assert [d["field"] for d in unknown.json()["error"]["details"]] == ["body.definition.all.1.tier.0"]
        two_keys = await client.post(
            PREVIEW, json={"definition": {"tier": ["gold"], "has_purchased": True}}, headers=headers
        )
        assert two_keys.status_code == 422
        assert two_keys.json()["error"]["code"] == "invalid_segment"
        no_definition = await client.post(PREVIEW, json={"sample": 3}, headers=headers)
        assert no_definition.status_code == 422
        assert no_definition.json()["error"]["details"][0]["field"] == "body.definition"
        too_many = await client.post(PREVIEW, json={"definition": {"all": []}, "sample": 500}, headers=headers)
        assert too_many.status_code == 422
        assert too_many.json()["error"]["details"][0]["field"] == "body.sample"


async def test_a_segment_is_saved_renamed_and_deleted_with_the_apis_audit_rows(
    app: FastAPI, make_key: KeyMaker, marketer: ApiClient, sessions: Sessions, people: Population
) -> None:
    name = _name()
    definition = _mine(people.tag, {"tier": ["gold"]})
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        created = await client.post(SAVE, json={"name": f"  {name} ", "definition": definition}, headers=headers)
        assert created.status_code == 201, created.text
        saved = created.json()
        assert saved["name"] == name
        assert saved["url"] == f"/console/segments/{saved['id']}"
        stored = (await marketer.get(f"/api/v1/segments/{saved['id']}")).json()
        assert stored["definition"] == definition
        counted = await marketer.post("/api/v1/segments/preview", json={"segment_id": saved["id"], "sample": 0})
        assert counted.json()["count"] == 2

        page = await client.get(saved["url"])
        assert page.status_code == 200
        assert '<script type="application/json" id="segment-data">' in page.text
        assert saved["id"] in page.text

        renamed = await client.put(
            f"{SAVE}/{saved['id']}",
            json={"name": f"{name} v2", "description": "Gold members", "definition": _mine(people.tag)},
            headers=headers,
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["description"] == "Gold members"
        assert (await marketer.get(f"/api/v1/segments/{saved['id']}")).json()["name"] == f"{name} v2"

        deleted = await client.request("DELETE", f"{SAVE}/{saved['id']}", json={}, headers=headers)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["redirect"].startswith("/console/segments?flash=")
        assert (await marketer.get(f"/api/v1/segments/{saved['id']}")).status_code == 404
        listed = await client.get(deleted.json()["redirect"])
        assert f"Deleted {name} v2." in listed.text

    rows = await audit_rows(sessions, saved["id"])
    assert [r["action"] for r in rows] == ["segment.create", "segment.update", "segment.delete"]
    assert all(r["details"].get("via") == "console" for r in rows)
    # Through the API the same changes write the same rows, apart from where they came from.
    api_made = (await marketer.post("/api/v1/segments", json={"name": _name(), "definition": definition})).json()
    api_rows = await audit_rows(sessions, api_made["id"])
    assert without_via(api_rows)[0]["action"] == "segment.create"
    assert set(without_via(api_rows)[0]["details"]) == set(without_via(rows)[0]["details"])


async def test_bad_saves_answer_like_the_api_and_write_nothing(
    app: FastAPI, make_key: KeyMaker, marketer: ApiClient, sessions: Sessions, people: Population
) -> None:
    taken = _name()
    assert (await marketer.post("/api/v1/segments", json={"name": taken, "definition": {"all": []}})).status_code == 201
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        duplicate = {"name": taken, "definition": _mine(people.tag)}
        console = await client.post(SAVE, json=duplicate, headers=headers)
        api = await marketer.post("/api/v1/segments", json=duplicate)
        assert console.status_code == api.status_code == 409
        assert console.json() == api.json()
        assert console.json()["error"]["code"] == "segment_exists"

        fresh = _name()
        invalid = {"name": fresh, "definition": _mine(people.tag, {"order_count": {"gt": 5, "lt": 2}})}
        console = await client.post(SAVE, json=invalid, headers=headers)
        api = await marketer.post("/api/v1/segments", json=invalid)
        assert console.status_code == api.status_code == 422
        assert console.json() == api.json()
        assert console.json()["error"]["details"][0]["field"] == "body.definition.all.1.order_count"

        nameless = await client.post(SAVE, json={"name": "  ", "definition": {"all": []}}, headers=headers)
        assert nameless.status_code == 422
        assert [d["field"] for d in nameless.json()["error"]["details"]] == ["body.name"]
        extra = await client.post(SAVE, json={"name": fresh, "definition": {"all": []}, "owner": "x"}, headers=headers)
        assert extra.status_code == 422
        assert extra.json()["error"]["details"][0]["field"] == "body.owner"
        assert await _named(sessions, fresh) == 0

        missing = await client.put(
            f"{SAVE}/{uuid.uuid4()}", json={"name": fresh, "definition": {"all": []}}, headers=headers
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "segment_not_found"
        not_an_id = await client.put(f"{SAVE}/nope", json={"name": fresh, "definition": {"all": []}}, headers=headers)
        assert not_an_id.status_code == 422
        assert await _named(sessions, fresh) == 0

        # Renaming onto a taken name is the same 409 and leaves the segment as it was.
        mine = (await client.post(SAVE, json={"name": fresh, "definition": {"all": []}}, headers=headers)).json()
        clash = await client.put(
            f"{SAVE}/{mine['id']}", json={"name": taken, "definition": _mine(people.tag)}, headers=headers
        )
        assert clash.status_code == 409
        assert (await marketer.get(f"/api/v1/segments/{mine['id']}")).json()["definition"] == {"all": []}


async def test_a_segment_a_campaign_uses_is_listed_with_it_and_not_deleted(
    app: FastAPI, make_key: KeyMaker, marketer: ApiClient, sessions: Sessions, people: Population
) -> None:
    name = _name()
    segment = (await marketer.post("/api/v1/segments", json={"name": name, "definition": _mine(people.tag)})).json()
    kind = await add_journey(sessions)
    campaign_name = f"Uses {name}"
    body = {"name": campaign_name, "segment_id": segment["id"], "journey_kind": kind}
    campaign = await marketer.post("/api/v1/campaigns", json=body)
    assert campaign.status_code == 201, campaign.text
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        refused = await client.request("DELETE", f"{SAVE}/{segment['id']}", json={}, headers=headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "segment_in_use"
        assert (await marketer.get(f"/api/v1/segments/{segment['id']}")).status_code == 200

        listing = await client.get("/console/segments")
        assert listing.status_code == 200
        row = listing.text.split(f'data-segment="{segment["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert campaign_name in row
        assert f'href="/console/campaigns/{campaign.json()["id"]}"' in row
        assert f"?count={segment['id']}" in row  # counted on demand
        counted = await client.get("/console/segments", params={"count": segment["id"]})
        row = counted.text.split(f'data-segment="{segment["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="num" data-count>5</td>' in row
        page = await client.get(f"/console/segments/{segment['id']}")
        assert campaign_name in page.text
        assert (await client.get(f"/console/segments/{uuid.uuid4()}")).status_code == 404
        assert (await client.get("/console/segments/not-an-id")).status_code == 404


async def test_marketers_and_admins_see_segments_after_campaigns_and_other_roles_get_403(
    app: FastAPI, make_key: KeyMaker
) -> None:
    for role in (Role.MARKETER, Role.ADMIN):
        async with console_client(app) as client:
            await sign_in(client, await make_key(role))
            page = await client.get("/console/segments")
            assert page.status_code == 200
            nav = page.text.split('<nav aria-label="Console">', 1)[1].split("</nav>", 1)[0]
            assert nav.index('href="/console/campaigns"') < nav.index('href="/console/segments"')
    for role in (Role.APPROVER, Role.OPS):
        async with console_client(app) as client:
            await sign_in(client, await make_key(role))
            assert (await client.get("/console/segments")).status_code == 403
            assert (await client.get("/console/segments/new")).status_code == 403
            home = await client.get("/console/members")
            refused = await client.post(
                PREVIEW, json={"definition": {"all": []}}, headers={"X-CSRF-Token": csrf(home.text)}
            )
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "forbidden"
    async with console_client(app) as client:
        anonymous = await client.post(PREVIEW, json={"definition": {"all": []}})
        assert anonymous.status_code == 401
        assert "error" in anonymous.json()


async def test_calls_without_the_sessions_csrf_token_or_json_change_nothing(
    app: FastAPI, make_key: KeyMaker, sessions: Sessions
) -> None:
    name = _name()
    body = {"name": name, "definition": {"all": []}}
    async with console_client(app) as client:
        headers = await _signed_in(client, make_key)
        for bad in ({}, {"X-CSRF-Token": "forged"}):
            refused = await client.post(SAVE, json=body, headers=bad)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "csrf_rejected"
        assert await _named(sessions, name) == 0
        garbled = await client.post(SAVE, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
        assert garbled.status_code == 400
        assert garbled.json()["error"]["code"] == "malformed_json"
        deep = b'{"definition": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        nested = await client.post(PREVIEW, content=deep, headers={**headers, "Content-Type": "application/json"})
        assert nested.status_code == 400
        assert nested.json()["error"]["code"] == "malformed_json"
        hostile = {"all": [{"not": {"any": [{"not": {"all": []}}]}}]}
        for _ in range(40):
            hostile = {"not": hostile}
        too_deep = await client.post(PREVIEW, json={"definition": hostile}, headers=headers)
        assert too_deep.status_code == 422
        assert too_deep.json()["error"]["details"][0]["field"] == "body.definition"
        listed = await client.post(SAVE, json=[body], headers=headers)
        assert listed.status_code == 400
        assert await _named(sessions, name) == 0
        saved = await client.post(SAVE, json=body, headers=headers)
        assert saved.status_code == 201
        forged_delete = await client.request(
            "DELETE", f"{SAVE}/{saved.json()['id']}", json={}, headers={"X-CSRF-Token": "x"}
        )
        assert forged_delete.status_code == 403
        assert await _named(sessions, name) == 1
