"""Checks of a journey definition that its schema cannot make: references to templates, coupons and custom
member fields that must exist, steps that lead nowhere or can never be reached, loops, and waits for an event
without a timeout."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from models import MemberField
from services.definitions import Problem
from services.definitions.conditions import leaves
from services.journeys.definition import (
    TRIGGER_EVENT_FIELDS,
    AnyStep,
    BranchStep,
    Condition,
    Definition,
    IssueCouponStep,
    SendStep,
    SendSurveyStep,
    WaitForStep,
    successors,
)
from services.members import field_use

PERSONAL_FIELD = (
    "{key} holds personal data: a journey cannot test it, because a journey's conditions and what they find are"
    " kept in its Temporal workflow history, which must never hold personal data (rules and segments may test it)"
)


def validate(
    definition: Definition,
    *,
    templates: Iterable[tuple[str, str]],
    coupon_templates: Iterable[str],
    fields: Mapping[str, MemberField] | None = None,
    surveys: Iterable[str] = (),
) -> list[Problem]:
    """Problems a marketer can fix, each with the path of the field at fault: unknown templates, coupons or
    surveys, conditions on custom fields that are undefined, personal or tested in a way their type does not
    fit, event fields outside the condition of a trigger that has them, unknown or unreachable steps, loops,
    waits for an event without a timeout, an exit_from that names no step."""
    problems: list[Problem] = list(_field_problems(definition, fields or {}))
    problems.extend(_event_field_problems(definition))
    known_templates = set(templates)
    known_coupons = set(coupon_templates)
    known_surveys = set(surveys)
    index_of: dict[str, int] = {}
    for index, step in enumerate(definition.steps):
        if step.id in index_of:
            problems.append(Problem(path=f"steps.{index}.id", message=f"duplicate step id {step.id!r}"))
        index_of.setdefault(step.id, index)
    problems.extend(_exit_from_problems(definition, index_of))
    graph = successors(definition)
    for index, step in enumerate(definition.steps):
        at = f"steps.{index}"
        for field, target in graph[step.id]:
            if target not in index_of:
                problems.append(Problem(path=f"{at}.{field}", message=f"no step has the id {target!r}"))
        problems.extend(_reference_problems(step, at, known_templates, known_coupons))
        if isinstance(step, SendSurveyStep) and step.send_survey.survey not in known_surveys:
            problems.append(
                Problem(path=f"{at}.send_survey.survey", message=f"unknown survey {step.send_survey.survey!r}")
            )
    if problems:
        return problems
    reachable: set[str] = set()
    frontier = [definition.steps[0].id]
    while frontier:
        current = frontier.pop()
        if current not in reachable:
            reachable.add(current)
            frontier.extend(target for _, target in graph[current])
    for index, step in enumerate(definition.steps):
        if step.id not in reachable:
            problems.append(Problem(path=f"steps.{index}.id", message=f"step {step.id!r} can never be reached"))
    cycle = _find_cycle(graph, definition.steps[0].id)
    if cycle:
        problems.append(
            Problem(path=f"steps.{index_of[cycle[0]]}", message=f"steps loop back: {' → '.join([*cycle, cycle[0]])}")
        )
    return problems


def _exit_from_problems(definition: Definition, index_of: Mapping[str, int]) -> list[Problem]:
    """`exit_from` names one of the steps, and only means something with exit events."""
    if definition.exit_from is None:
        return []
    if definition.exit_from not in index_of:
        return [Problem(path="exit_from", message=f"no step has the id {definition.exit_from!r}")]
    if not definition.exit_on:
        return [Problem(path="exit_from", message="exit_from needs exit_on: the events it holds back")]
    return []


def _conditions(definition: Definition) -> Iterator[tuple[str, Condition]]:
    """Every condition tree of the definition with its path: the trigger's and each branch's."""
    if definition.trigger is not None and definition.trigger.condition is not None:
        yield "trigger.condition", definition.trigger.condition
    for index, step in enumerate(definition.steps):
        if isinstance(step, BranchStep):
            yield f"steps.{index}.branch.if", step.branch.if_


def _event_field_problems(definition: Definition) -> Iterator[Problem]:
    """`event.*` fields are what the triggering event carried: only its trigger's condition has them."""
    trigger = definition.trigger
    offered = TRIGGER_EVENT_FIELDS.get(trigger.event, ()) if trigger is not None else ()
    for root, tree in _conditions(definition):
        for at, leaf in leaves(tree, root):
            field = leaf.field or ""
            if not field.startswith("event."):
                continue
            if root != "trigger.condition":
                yield Problem(
                    path=f"{at}.field", message=f"{field} is the triggering event's: only the trigger tests it"
                )
            elif field not in offered:
                event = trigger.event if trigger is not None else "no"
                yield Problem(
                    path=f"{at}.field",
                    message=f"the {event} trigger has no {field} (it has: {', '.join(offered) or 'no event fields'})",
                )


def _field_problems(definition: Definition, fields: Mapping[str, MemberField]) -> Iterator[Problem]:
    """Tests of `attributes.<key>`: the field must be defined, hold no personal data, and fit the test."""
    tests = (test for root, tree in _conditions(definition) for test in leaves(tree, root))
    return field_use.attribute_problems(tests, fields, personal_refused=PERSONAL_FIELD)


def _reference_problems(
    step: AnyStep, at: str, known_templates: set[tuple[str, str]], known_coupons: set[str]
) -> list[Problem]:
    """Templates and coupons a step names that do not exist, and a wait_for without a timeout."""
    problems: list[Problem] = []
    match step:
        case SendStep(send=send):
            if (send.channel, send.template) not in known_templates:
                problems.append(
                    Problem(path=f"{at}.send.template", message=f"unknown {send.channel} template {send.template!r}")
                )
            if send.coupon is not None and send.coupon not in known_coupons:
                problems.append(Problem(path=f"{at}.send.coupon", message=f"unknown coupon template {send.coupon!r}"))
        case IssueCouponStep(issue_coupon=issue) if issue.template not in known_coupons:
            problems.append(
                Problem(path=f"{at}.issue_coupon.template", message=f"unknown coupon template {issue.template!r}")
            )
        case WaitForStep(wait_for=wait_for) if wait_for.seconds == 0:
            problems.append(
                Problem(path=f"{at}.wait_for", message="a wait_for needs a timeout (days, hours or minutes)")
            )
    return problems


def _find_cycle(graph: dict[str, list[tuple[str, str]]], start: str) -> list[str]:
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> list[str]:
        if node in on_path:
            return path[path.index(node) :]
        if node in done:
            return []
        path.append(node)
        on_path.add(node)
        for _, target in graph.get(node, []):
            found = visit(target)
            if found:
                return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return []

    return visit(start)
