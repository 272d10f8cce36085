"""Journey definitions through the API: list, read, validate with precise problems, create, version,
enable/disable; runs and tasks listings; roles."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import JourneyVersion
from services import journeys
from services.journeys.builtins import BUILTIN_JOURNEYS
from services.journeys.definition import (
    ACTIONS,
    BranchStep,
    CreateTaskStep,
    Definition,
    ExitStep,
    FlagStep,
    GrantPointsStep,
    IssueCouponStep,
    SendStep,
    SendSurveyStep,
    TagStep,
    WaitForStep,
    WaitStep,
    stored,
)
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error, member_body, role_client, walk_pages

# One step of every kind, written out with every default, as storage keeps it.
EVERY_KIND: dict[str, Any] = {
    "kind": "every_kind",
    "name": "Every kind of step",
    "reentry": "never",
    "exit_on": [],
    "steps": [
        {"id": "hello", "send": {"channel": "email", "template": "welcome", "category": "marketing"}},
        {"id": "pause", "wait": {"days": 0, "hours": 1, "minutes": 0, "until_local_time": "09:00"}},
        {
            "id": "await_order",
            "wait_for": {"event": "order_completed", "days": 2, "hours": 0, "minutes": 0},
            "on_event": "points",
            "on_timeout": "rich",
        },
        {
            "id": "rich",
            "branch": {"if": {"field": "tier", "op": "eq", "value": "gold"}, "then": "call", "else": "points"},
        },
        {"id": "call", "create_task": {"title": "Call them", "assignee_role": "ops", "due_days": 2}, "next": "points"},
        {"id": "points", "grant_points": {"points": 50, "reason": "thanks for waiting"}},
        {"id": "coupon", "issue_coupon": {"template": "cart_5"}},
        {"id": "mark", "tag": {"add": ["engaged"], "remove": []}},
        {"id": "churn", "flag": {"set": "pre_churn"}},
        {"id": "ask", "send_survey": {"survey": "after_visit", "channel": "email"}},
        {"id": "done", "exit": {}},
    ],
}
STEP_CLASSES = [
    SendStep,
    WaitStep,
    WaitForStep,
    BranchStep,
    CreateTaskStep,
    GrantPointsStep,
    IssueCouponStep,
    TagStep,
    FlagStep,
    SendSurveyStep,
    ExitStep,
]


def _welcome() -> dict[str, Any]:
    return copy.deepcopy(next(j for j in BUILTIN_JOURNEYS if j["kind"] == "welcome"))


def _contains(whole: Any, part: Any) -> bool:
    """Whether `whole` holds everything `part` says, unchanged (dicts may have more keys: defaults)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(key in whole and _contains(whole[key], v) for key, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(whole) == len(part) and all(map(_contains, whole, part))
    return bool(whole == part and type(whole) is type(part))


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


def test_a_step_of_every_kind_is_its_own_model_and_dumps_back_to_the_same_json() -> None:
    definition = Definition.model_validate(EVERY_KIND)
    assert [type(step) for step in definition.steps] == STEP_CLASSES
    assert {step.action for step in definition.steps} == set(ACTIONS)
    assert stored(definition) == EVERY_KIND
    assert stored(Definition.model_validate(definition.model_dump(by_alias=True))) == EVERY_KIND


@pytest.mark.parametrize("raw", BUILTIN_JOURNEYS, ids=[j["kind"] for j in BUILTIN_JOURNEYS])
def test_every_built_in_journey_parses_into_step_models_and_dumps_back(raw: dict[str, Any]) -> None:
    definition = Definition.model_validate(raw)
    kinds = [next(key for key in ACTIONS if key in step) for step in raw["steps"]]
    assert [step.action for step in definition.steps] == kinds
    dumped = stored(definition)
    assert _contains(dumped, raw), dumped  # what was written stays; storage only adds the defaults
    assert stored(Definition.model_validate(dumped)) == dumped


async def test_stored_journey_definitions_load_unchanged(
    admin: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        rows = (await session.execute(select(JourneyVersion))).scalars().all()
    assert {"welcome", "first_purchase", "win_back", "tier_upgrade", "birthday", "abandoned_cart"} <= {
        row.kind for row in rows
    }
    for row in rows:
        assert stored(Definition.model_validate(row.definition)) == row.definition, (row.kind, row.version)
    welcome = (await admin.get("/api/v1/journeys/welcome/versions/1")).json()
    assert welcome["definition"] == stored(Definition.model_validate(_welcome()))


@pytest.mark.parametrize(
    ("step", "field", "says"),
    [
        ({"id": "empty"}, "body.steps.1", "step 'empty' needs exactly one of send, wait, wait_for, "),
        (
            {"id": "both", "exit": {}, "wait": {"hours": 1}},
            "body.steps.1",
            "step 'both' needs exactly one of send, wait, wait_for, branch, grant_points, issue_coupon, "
            "create_task, tag, flag, exit, send_survey; it has wait, exit",
        ),
        ({"id": "odd", "exit": {}, "colour": "red"}, "body.steps.1.colour", "Extra inputs are not permitted"),
        (
            {"id": "odd", "send": {"channel": "email", "template": "welcome", "colour": "red"}},
            "body.steps.1.send.colour",
            "Extra inputs are not permitted",
        ),
        (
            {"id": "early", "exit": {}, "on_timeout": "done"},
            "body.steps.1",
            "step 'early': on_event/on_timeout belong to a wait_for step",
        ),
        ({"id": "few", "grant_points": {"points": 0, "reason": "none"}}, "body.steps.1.grant_points.points", "greater"),
        ({"send": {"channel": "email", "template": "welcome"}}, "body.steps.1.id", "Field required"),
        ("send", "body.steps.1", "a step is an object with an id and exactly one of send, wait"),
    ],
)
async def test_a_step_of_no_kind_two_kinds_or_unknown_keys_is_refused_naming_the_field(
    http: httpx.AsyncClient, make_key: KeyMaker, step: Any, field: str, says: str
) -> None:
    marketer = await _marketer(http, make_key)
    definition: dict[str, Any] = {
        "kind": f"bad_{uuid.uuid4().hex[:8]}",
        "name": "Bad step",
        "steps": [{"id": "first", "wait": {"hours": 1}}, step, {"id": "done", "exit": {}}],
    }
    error = assert_error(await marketer.post("/api/v1/journeys", json=definition), 422, "invalid_definition")
    assert [d["field"] for d in error["details"]] == [field], error
    assert says in error["details"][0]["message"], error
    checked = (await marketer.post("/api/v1/journeys/validate", json=definition)).json()
    assert checked == {"valid": False, "problems": error["details"]}
    assert_error(await marketer.get(f"/api/v1/journeys/{definition['kind']}"), 404, "journey_not_found")


async def test_runs_of_a_journey_page_by_run_id_with_each_run_once(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    kind = f"paging_{uuid.uuid4().hex[:8]}"
    run_ids = [str(uuid.uuid4()) for _ in range(5)]
    async with sessions() as session:
        for n, run_id in enumerate(run_ids):
            progress = journeys.Progress(
                run_id=run_id,
                workflow_id=f"journey-{kind}-{uuid.uuid4()}",
                member_id=uuid.uuid4(),
                kind=kind,
                version=1,
                campaign_id=None,
                step="wait" if n % 2 else "done",
                status="running" if n % 2 else "completed",
                at=datetime.now(UTC),
            )
            await journeys.record(session, progress)
        await session.commit()
    url = f"/api/v1/journeys/{kind}/runs"
    walked = await walk_pages(shop, url, limit=2)
    assert [r["run_id"] for r in walked] == sorted(run_ids, reverse=True)  # by run id, descending, each once
    running = await walk_pages(shop, url, limit=1, params={"status": "running"})
    assert [r["run_id"] for r in running] == sorted(run_ids[1::2], reverse=True)
