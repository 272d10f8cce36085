"""A definition as the console's canvas draws it: one node per step with a one-line summary a marketer reads
("Email · welcome", "Wait 24 h"), and one edge per way a step continues, labelled by what it means. The edges
come from `successors`, the same routes the journey workflow follows."""

from __future__ import annotations

from dataclasses import dataclass

from services.definitions import Duration
from services.journeys.definition import (
    AnyStep,
    BranchStep,
    Condition,
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
    successors,
)

# successors() names a route by the field it comes from; the canvas labels it by what it means.
EDGE_LABELS = {
    "next": "next",
    "on_event": "on_event",
    "on_timeout": "on_timeout",
    "branch.then": "then",
    "branch.else": "else",
}
_CHANNELS = {"email": "Email", "sms": "SMS"}
_OPS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in", "not_in": "not in"}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    summary: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]


def graph(definition: Definition) -> Graph:
    routes = successors(definition)
    nodes = [Node(id=step.id, kind=step.action, summary=summary(step)) for step in definition.steps]
    edges = [
        Edge(source=step_id, target=target, label=EDGE_LABELS[field])
        for step_id, targets in routes.items()
        for field, target in targets
    ]
    return Graph(nodes=nodes, edges=edges)


def duration(value: Duration) -> str:
    """As the marketer wrote it: {"hours": 24} is "24 h", {"days": 1, "minutes": 30} is "1 d 30 min"."""
    parts = [f"{n} {unit}" for n, unit in ((value.days, "d"), (value.hours, "h"), (value.minutes, "min")) if n]
    return " ".join(parts)


def condition(value: Condition) -> str:
    if value.all is not None:
        return f"all of {len(value.all)} conditions"
    if value.any is not None:
        return f"any of {len(value.any)} conditions"
    if value.not_ is not None:
        return f"not ({condition(value.not_)})"
    if value.op == "exists":
        return f"{value.field} is set"
    shown = ", ".join(str(v) for v in value.value) if isinstance(value.value, list) else str(value.value)
    return f"{value.field} {_OPS.get(value.op or '', value.op)} {shown}"


def summary(step: AnyStep) -> str:
    """One line saying what the step does."""
    match step:
        case SendStep(send=send):
            text = f"{_CHANNELS[send.channel]} · {send.template}"
            return f"{text} + coupon {send.coupon}" if send.coupon else text
        case WaitStep(wait=wait):
            waited = duration(wait)
            if wait.until_local_time is None:
                return f"Wait {waited}"
            return f"Wait {waited}, then until {wait.until_local_time}" if waited else f"Until {wait.until_local_time}"
        case WaitForStep(wait_for=wait_for):
            waited = duration(wait_for)
            return f"Wait for {wait_for.event} · {waited}" if waited else f"Wait for {wait_for.event}"
        case BranchStep(branch=branch):
            return f"If {condition(branch.if_)}"
        case GrantPointsStep(grant_points=grant):
            return f"+{grant.points:,} points · {grant.reason}"
        case IssueCouponStep(issue_coupon=coupon):
            return f"Coupon {coupon.template}"
        case CreateTaskStep(create_task=task):
            return f"Task for {task.assignee_role}: {task.title}"
        case TagStep(tag=tag):
            return " ".join([*(f"+{t}" for t in tag.add), *(f"−{t}" for t in tag.remove)]) or "Tag"
        case FlagStep(flag=flag):
            if flag.set and flag.clear:
                return f"Set {flag.set}, clear {flag.clear}"
            return f"Set {flag.set}" if flag.set else f"Clear {flag.clear}"
        case ExitStep():
            return "Exit"
        case SendSurveyStep(send_survey=survey):
            return f"{_CHANNELS[survey.channel]} · survey {survey.survey}"
    return step.action
