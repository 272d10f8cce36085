"""Journey conditions on custom member fields: the checks that name the part at fault (undefined, personal, a
test the type does not fit), and branches that run on a field's value without any personal value reaching
the workflow's history."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.support.fields import fields_defined
from tests.support.helpers import ApiClient, assert_error, new_member_id
from workflows.contracts import JourneyInput, JourneyOutcome, journey_workflow_id
from workflows.journey import JourneyWorkflow

SECRET = "PASSPORT-E12345678"


def _on(key: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": f"attributes.{key}", "op": op, "value": value}


def _journey(kind: str, condition: dict[str, Any], trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    """A branch on `condition` that tags the member `warm` or `cold`, as step 1 (after a tag at step 0)."""
    definition: dict[str, Any] = {
        "kind": kind,
        "name": "Colour journey",
        "steps": [
            {"id": "start", "tag": {"add": ["colour_journey"]}},
            {"id": "which", "branch": {"if": condition, "then": "warm", "else": "cold"}},
            {"id": "warm", "tag": {"add": ["warm"]}, "next": "done"},
            {"id": "cold", "tag": {"add": ["cold"]}},
            {"id": "done", "exit": {}},
        ],
    }
    if trigger is not None:
        definition["trigger"] = trigger
    return definition


async def test_conditions_on_undefined_personal_or_misfitting_fields_are_refused_naming_the_part(
    admin: ApiClient, marketer: ApiClient
) -> None:
    async with fields_defined(
        admin,
        {"field_type": "multi_select"},
        {"field_type": "text", "personal_data": True},
        {"field_type": "date"},
    ) as (interests, passport, joined):
        kind = f"fields_{uuid.uuid4().hex[:8]}"
        condition = {
            "all": [
                _on(interests["key"], "eq", "red"),
                _on(interests["key"], "contains", "purple"),
                {"any": [_on(joined["key"], "gt", "2026-13-01"), _on(joined["key"], "contains", "2026")]},
            ]
        }
        trigger = {"event": "checked_in", "condition": {"not": _on(passport["key"], "exists")}}
        body = _journey(kind, condition, trigger=trigger)
        body["steps"].insert(
            2, {"id": "known", "branch": {"if": _on("nope", "exists"), "then": "warm", "else": "cold"}}
        )
        checked = (await marketer.post("/api/v1/journeys/validate", json=body)).json()
        assert checked["valid"] is False
        problems = {p["field"]: p["message"] for p in checked["problems"]}
        assert set(problems) == {
            "body.trigger.condition.not.field",
            "body.steps.1.branch.if.all.0.op",
            "body.steps.1.branch.if.all.1.value",
            "body.steps.1.branch.if.all.2.any.0.value",
            "body.steps.1.branch.if.all.2.any.1.op",
            "body.steps.2.branch.if.field",
        }
        assert "holds personal data" in problems["body.trigger.condition.not.field"]
        assert "workflow history" in problems["body.trigger.condition.not.field"]
        assert "contains asks whether the member has an option" in problems["body.steps.1.branch.if.all.0.op"]
        assert "one of its options: red, green, blue" in problems["body.steps.1.branch.if.all.1.value"]
        assert "YYYY-MM-DD" in problems["body.steps.1.branch.if.all.2.any.0.value"]
        assert problems["body.steps.2.branch.if.field"].startswith("there is no member field 'nope'")
        error = assert_error(await marketer.post("/api/v1/journeys", json=body), 422, "invalid_definition")
        assert {d["field"] for d in error["details"]} == set(problems)
        assert_error(await marketer.get(f"/api/v1/journeys/{kind}"), 404, "journey_not_found")
        schema = _journey(kind, {"field": "shoe_size", "op": "eq", "value": 1})
        refused = (await marketer.post("/api/v1/journeys/validate", json=schema)).json()
        assert refused["valid"] is False
        assert [p["field"] for p in refused["problems"]] == ["body.steps.1.branch.if.field"]
        assert "attributes.<key>" in refused["problems"][0]["message"]


async def _run(env: WorkflowEnvironment, task_queue: str, kind: str, member_id: str) -> JourneyOutcome:
    handle = await env.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(member_id=member_id, kind=kind),
        id=journey_workflow_id(kind, member_id),
        task_queue=task_queue,
    )
    outcome = await handle.result()
    history = (await handle.fetch_history()).to_json()
    assert SECRET not in history
    return outcome


async def test_a_branch_on_a_custom_field_follows_the_members_value_and_never_sees_personal_ones(
    admin: ApiClient,
    marketer: ApiClient,
    shop: ApiClient,
    temporal: WorkflowEnvironment,
    workers: None,
    task_queue: str,
) -> None:
    async with fields_defined(
        admin, {"field_type": "single_select"}, {"field_type": "text", "personal_data": True}
    ) as (colour, passport):
        key = colour["key"]
        kind = f"colours_{uuid.uuid4().hex[:8]}"
        created = await marketer.post("/api/v1/journeys", json=_journey(kind, _on(key, "in", ["red", "green"])))
        assert created.status_code == 201, created.text
        secret = {passport["key"]: SECRET}
        red = await new_member_id(shop, attributes={key: "red", **secret})
        blue = await new_member_id(shop, attributes={key: "blue", **secret})
        unset = await new_member_id(shop, attributes=secret)
        for member_id, way in ((red, "warm"), (blue, "cold"), (unset, "cold")):
            outcome = await _run(temporal, task_queue, kind, member_id)
            assert outcome.steps == ["start", "which", way, "done"], (member_id, outcome)
            tags = (await shop.get(f"/api/v1/members/{member_id}")).json()["tags"]
            assert way in tags
        # The field becomes personal after the journey was published: its runs no longer see the value.
        marked = await admin.patch(f"/api/v1/member-fields/{key}", json={"personal_data": True})
        assert marked.status_code == 200, marked.text
        green = await new_member_id(shop, attributes={key: "green"})
        assert (await _run(temporal, task_queue, kind, green)).steps == ["start", "which", "cold", "done"]
        assert (await marketer.post(f"/api/v1/journeys/{kind}/disable")).status_code == 200
