"""What changed between two versions of a journey, as the canvas draws it: each step added, removed, changed (with
the paths of the fields that differ) or unchanged, each edge added or removed, and the journey-level settings that
differ. Routes are compared as the workflow follows them (`successors`), so a step whose `next` went from implicit
to explicit, to the same step, has not changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.journeys.canvas import EDGE_LABELS
from services.journeys.definition import AnyStep, Definition, stored, successors

StepStatus = Literal["added", "removed", "changed", "same"]
EdgeStatus = Literal["added", "removed", "same"]
_ROUTE_FIELDS = ("next", "on_event", "on_timeout")
_SETTINGS = ("name", "description", "trigger", "reentry", "exit_on", "exit_from")


@dataclass(frozen=True)
class StepDiff:
    id: str
    status: StepStatus
    kind: str
    # Paths inside the step that differ, e.g. ["send.template", "next"]; empty unless changed.
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EdgeDiff:
    source: str
    label: str
    target: str
    status: EdgeStatus


@dataclass(frozen=True)
class Diff:
    steps: list[StepDiff]
    edges: list[EdgeDiff]
    # Journey-level settings that differ (name, trigger, reentry, …), as paths such as "trigger.event".
    settings: list[str]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested objects by dotted path; lists (tags, conditions) are leaves compared whole."""
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    leaves: dict[str, Any] = {}
    for key, item in value.items():
        leaves.update(flatten(item, f"{prefix}.{key}" if prefix else key))
    return leaves


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = flatten(old), flatten(new)
    return sorted(path for path in a.keys() | b.keys() if a.get(path) != b.get(path))


def _step_body(step: AnyStep) -> dict[str, Any]:
    """The step as stored, without its routes (those are compared as followed) and its id."""
    raw = step.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in ("id", *_ROUTE_FIELDS):
        raw.pop(key, None)
    branch = raw.get("branch")
    if isinstance(branch, dict):
        branch.pop("then", None)
        branch.pop("else", None)
    return raw


def _routes(definition: Definition) -> dict[str, dict[str, str]]:
    return {step_id: dict(targets) for step_id, targets in successors(definition).items()}


def diff(old: Definition, new: Definition) -> Diff:
    """Steps in the new version's order, then the removed ones in the old version's order."""
    old_steps = {step.id: step for step in old.steps}
    new_steps = {step.id: step for step in new.steps}
    old_routes, new_routes = _routes(old), _routes(new)
    steps: list[StepDiff] = []
    for step in new.steps:
        before = old_steps.get(step.id)
        if before is None:
            steps.append(StepDiff(id=step.id, status="added", kind=step.action))
            continue
        changed = _changed(_step_body(before), _step_body(step))
        changed += _changed(old_routes[step.id], new_routes[step.id])
        status: StepStatus = "changed" if changed else "same"
        steps.append(StepDiff(id=step.id, status=status, kind=step.action, changed=sorted(set(changed))))
    steps += [StepDiff(id=s.id, status="removed", kind=s.action) for s in old.steps if s.id not in new_steps]
    old_edges, new_edges = _edges(old_routes), _edges(new_routes)
    edges = [EdgeDiff(*edge, status="same" if edge in old_edges else "added") for edge in new_edges]
    edges += [EdgeDiff(*edge, status="removed") for edge in old_edges if edge not in new_edges]
    old_settings = {key: value for key, value in stored(old).items() if key in _SETTINGS}
    new_settings = {key: value for key, value in stored(new).items() if key in _SETTINGS}
    return Diff(steps=steps, edges=edges, settings=_changed(old_settings, new_settings))


def _edges(routes: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    return [
        (source, EDGE_LABELS[route], target) for source, targets in routes.items() for route, target in targets.items()
    ]
