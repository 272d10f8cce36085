"""Comparing two versions of a journey (services.journeys.diff): routes compare as the workflow follows them, so
writing every `next` out changes nothing; added, removed and changed steps (with the paths of the changed fields),
added and removed edges, and the journey-level settings that differ."""

from __future__ import annotations

import copy
from typing import Any

from services.journeys.builtins import BUILTIN_JOURNEYS
from services.journeys.definition import Definition, successors
from services.journeys.diff import diff


def _builtin(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in BUILTIN_JOURNEYS if d["kind"] == kind))


def _explicit(raw: dict[str, Any]) -> dict[str, Any]:
    """The definition as the editor writes it: every route named, no step relying on the next in the list."""
    routes = successors(Definition.model_validate(raw))
    out = copy.deepcopy(raw)
    for step in out["steps"]:
        for field, target in routes[step["id"]]:
            if not field.startswith("branch."):
                step[field] = target
    out["steps"].reverse()  # the order no longer matters once every route is explicit
    return out


def test_every_builtin_with_its_routes_written_out_and_reordered_is_unchanged() -> None:
    for raw in BUILTIN_JOURNEYS:
        changes = diff(Definition.model_validate(raw), Definition.model_validate(_explicit(raw)))
        assert {s.status for s in changes.steps} == {"same"}, raw["kind"]
        assert {e.status for e in changes.edges} == {"same"}, raw["kind"]
        assert changes.settings == []


def test_added_removed_and_changed_steps_with_their_fields_and_edges() -> None:
    old = _builtin("welcome")
    new = _builtin("welcome")
    new["name"] = "Welcome, reworded"
    new["trigger"] = {"event": "signed_up", "condition": {"field": "tier", "op": "eq", "value": "gold"}}
    steps = {s["id"]: s for s in new["steps"]}
    steps["story_delay"]["wait"] = {"hours": 48}
    steps["wait_first_purchase"]["on_timeout"] = "bonus"
    new["steps"] = [s for s in new["steps"] if s["id"] != "brand_story"]
    new["steps"][0]["next"] = "story_delay"
    steps["story_delay"]["next"] = "wait_first_purchase"
    steps["reminder"]["next"] = "done"  # bonus goes in before done: reminder still leads to done
    new["steps"].insert(-1, {"id": "bonus", "grant_points": {"points": 50, "reason": "come back"}, "next": "reminder"})

    changes = diff(Definition.model_validate(old), Definition.model_validate(new))
    by_id = {s.id: s for s in changes.steps}
    assert by_id["bonus"].status == "added"
    assert by_id["brand_story"].status == "removed"
    assert by_id["brand_story"].kind == "send"
    assert by_id["welcome_message"].status == "same"  # its next was implicit, now explicit, to the same step
    assert (by_id["story_delay"].status, by_id["story_delay"].changed) == ("changed", ["next", "wait.hours"])
    assert (by_id["wait_first_purchase"].status, by_id["wait_first_purchase"].changed) == ("changed", ["on_timeout"])
    assert by_id["reminder"].status == "same"
    assert [s.id for s in changes.steps][-1] == "brand_story"  # removed steps come after the new version's
    edges = {(e.source, e.label, e.target): e.status for e in changes.edges}
    assert edges[("story_delay", "next", "wait_first_purchase")] == "added"
    assert edges[("story_delay", "next", "brand_story")] == "removed"
    assert edges[("brand_story", "next", "wait_first_purchase")] == "removed"
    assert edges[("wait_first_purchase", "on_timeout", "bonus")] == "added"
    assert edges[("wait_first_purchase", "on_timeout", "reminder")] == "removed"
    assert edges[("wait_first_purchase", "on_event", "done")] == "same"
    assert changes.settings == ["name", "trigger.condition.field", "trigger.condition.op", "trigger.condition.value"]


def test_a_step_that_changes_kind_lists_both_kinds_fields() -> None:
    old = _builtin("abandoned_cart")
    new = _builtin("abandoned_cart")
    new["steps"][0] = {"id": "grace", "wait_for": {"event": "order_completed", "hours": 2}}
    changes = diff(Definition.model_validate(old), Definition.model_validate(new))
    grace = next(s for s in changes.steps if s.id == "grace")
    assert grace.status == "changed"
    assert grace.kind == "wait_for"
    assert "wait.hours" in grace.changed
    assert "wait_for.event" in grace.changed
    assert "on_timeout" in grace.changed  # the wait_for's second route, which the wait did not have
