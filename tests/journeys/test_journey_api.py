"""Journey definitions through the API: list, read, validate with precise problems, create, version,
enable/disable; runs and tasks listings; roles."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx

from services.journeys.builtins import BUILTIN_JOURNEYS
from services.platform.api_keys import Role
from tests.conftest import KeyMaker
from tests.support.helpers import ApiClient, assert_error, member_body, role_client


def _welcome() -> dict[str, Any]:
    return copy.deepcopy(next(j for j in BUILTIN_JOURNEYS if j["kind"] == "welcome"))


async def _marketer(http: httpx.AsyncClient, make_key: KeyMaker) -> ApiClient:
    return await role_client(http, make_key, Role.MARKETER)


async def test_built_in_journeys_are_listed_and_readable(admin: ApiClient) -> None:
    kinds = {j["kind"] for j in (await admin.get("/api/v1/journeys")).json()}
    assert {"welcome", "first_purchase", "win_back", "tier_upgrade", "birthday", "abandoned_cart"} <= kinds
    welcome = (await admin.get("/api/v1/journeys/welcome")).json()
    assert welcome["builtin"] is True
    assert welcome["definition"]["steps"][0]["id"] == "welcome_message"
    assert_error(await admin.get("/api/v1/journeys/nope"), 404, "journey_not_found")


async def test_validation_names_each_problem(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    marketer = await _marketer(http, make_key)
    bad = _welcome()
    bad["kind"] = "welcome_bad"
    bad["steps"][0]["send"]["template"] = "no_such_template"
    bad["steps"][2]["next"] = "nowhere"
    bad["steps"][3]["wait_for"] = {"event": "order_completed"}  # no timeout
    bad["steps"].append({"id": "orphan", "exit": {}})
    result = (await marketer.post("/api/v1/journeys/validate", json=bad)).json()
    assert result["valid"] is False
    problems = {p["field"]: p["message"] for p in result["problems"]}
    assert problems["body.steps.0.send.template"] == "unknown email template 'no_such_template'"
    assert problems["body.steps.2.next"] == "no step has the id 'nowhere'"
    assert "timeout" in problems["body.steps.3.wait_for"]
    looping = _welcome()
    looping["kind"] = "looping"
    looping["steps"][4]["next"] = "welcome_message"
    result = (await marketer.post("/api/v1/journeys/validate", json=looping)).json()
    assert any("loop" in p["message"] for p in result["problems"])
    unreachable = _welcome()
    unreachable["kind"] = "unreachable"
    unreachable["steps"][1]["next"] = "brand_story"
    unreachable["steps"].insert(2, {"id": "skipped", "wait": {"hours": 1}})
    result = (await marketer.post("/api/v1/journeys/validate", json=unreachable)).json()
    assert {"field": "body.steps.2.id", "message": "step 'skipped' can never be reached"} in result["problems"]
    schema = (
        await marketer.post("/api/v1/journeys/validate", json={"kind": "x1", "name": "n", "steps": [{"id": "a"}]})
    ).json()
    assert schema["valid"] is False
    assert (await marketer.post("/api/v1/journeys/validate", json=_welcome())).json() == {"valid": True, "problems": []}


async def test_create_publish_and_toggle_a_journey(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    marketer = await _marketer(http, make_key)
    kind = f"vip_{uuid.uuid4().hex[:8]}"
    definition: dict[str, Any] = {
        "kind": kind,
        "name": "VIP welcome",
        "trigger": {"event": "tier_upgraded", "condition": {"field": "tier", "op": "eq", "value": "gold"}},
        "steps": [
            {"id": "gift", "grant_points": {"points": 500, "reason": "Welcome to gold"}},
            {"id": "note", "create_task": {"title": "Send a handwritten note"}},
        ],
    }
    created = await marketer.post("/api/v1/journeys", json=definition)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert_error(await marketer.post("/api/v1/journeys", json=definition), 409, "journey_exists")
    definition["steps"][0]["grant_points"]["points"] = 800
    published = (await marketer.put(f"/api/v1/journeys/{kind}", json=definition)).json()
    assert published["version"] == 2
    detail = (await marketer.get(f"/api/v1/journeys/{kind}")).json()
    assert detail["versions"] == [2, 1]
    assert detail["definition"]["steps"][0]["grant_points"]["points"] == 800
    first = (await marketer.get(f"/api/v1/journeys/{kind}/versions/1")).json()
    assert first["definition"]["steps"][0]["grant_points"]["points"] == 500
    assert (await marketer.post(f"/api/v1/journeys/{kind}/disable")).json()["enabled"] is False
    assert (await marketer.post(f"/api/v1/journeys/{kind}/enable")).json()["enabled"] is True
    mismatched = {**definition, "kind": "other"}
    assert_error(await marketer.put(f"/api/v1/journeys/{kind}", json=mismatched), 422, "invalid_definition")
    invalid = copy.deepcopy(definition)
    invalid["steps"][0]["grant_points"]["points"] = -1
    error = assert_error(await marketer.put(f"/api/v1/journeys/{kind}", json=invalid), 422, "invalid_definition")
    assert error["details"][0]["field"].startswith("body.steps.0.grant_points.points")
    # Leave the shared database as we found it: this journey would start for other tests' gold members.
    assert (await marketer.post(f"/api/v1/journeys/{kind}/disable")).json()["enabled"] is False


async def test_roles_for_journeys_and_tasks(http: httpx.AsyncClient, make_key: KeyMaker, shop: ApiClient) -> None:
    approver = ApiClient(http, await make_key(Role.APPROVER))
    assert (await approver.get("/api/v1/journeys")).status_code == 200
    assert_error(await approver.put("/api/v1/journeys/welcome", json=_welcome()), 403, "insufficient_role")
    assert_error(await shop.post("/api/v1/journeys/welcome/disable"), 403)
    assert (await approver.get("/api/v1/tasks")).status_code == 200
    assert_error(await approver.post(f"/api/v1/tasks/{uuid.uuid4()}/done"), 404, "task_not_found")
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    runs = await shop.get(f"/api/v1/members/{member['id']}/journeys")
    assert runs.status_code == 200
    assert_error(await shop.get("/api/v1/journeys/welcome/runs", params={"status": "weird"}), 422)
    assert_error(await approver.post(f"/api/v1/journeys/runs/{uuid.uuid4()}/cancel"), 403)
