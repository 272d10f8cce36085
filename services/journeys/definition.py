"""Journey definitions: the data a marketer reads and edits, and its validation.

A definition is a list of steps. Each step has an `id` and exactly one action (`send`, `wait`, `wait_for`,
`branch`, `grant_points`, `issue_coupon`, `create_task`, `tag`, `flag`, `exit`); it continues with the
next step in the list unless it names another (`next`, or `on_event`/`on_timeout` of a `wait_for`,
`then`/`else` of a `branch`). Steps may not loop, so every run ends."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.definitions import conditions

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

ACTIONS = ("send", "wait", "wait_for", "branch", "grant_points", "issue_coupon", "create_task", "tag", "flag", "exit")
EVENTS = (
    "signed_up",
    "order_completed",
    "first_order_completed",
    "tier_upgraded",
    "cart_abandoned",
    "checked_in",
    "review_posted",
    "birthday",
    "inactive",
)
CONDITION_FIELDS = (
    "tier",
    "tags",
    "lifetime_spend",
    "order_count",
    "days_since_last_purchase",
    "days_since_signup",
    "consent.email",
    "consent.sms",
    "locale",
    "last_wait",
)
MAX_WAIT_DAYS = 400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Duration(_Strict):
    days: int = Field(default=0, ge=0, le=MAX_WAIT_DAYS)
    hours: int = Field(default=0, ge=0, le=24 * MAX_WAIT_DAYS)
    minutes: int = Field(default=0, ge=0, le=60 * 24 * MAX_WAIT_DAYS)

    @property
    def seconds(self) -> int:
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60


class SendAction(_Strict):
    channel: Literal["email", "sms"]
    template: Name
    # A coupon template code: a coupon is issued to the member and its code is given to the message.
    coupon: Name | None = None
    category: Literal["marketing", "transactional"] = "marketing"


class WaitAction(Duration):
    # Instead of (or after) a duration: wait until this time of day in the member's time zone.
    until_local_time: str | None = None

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitAction:
        if self.until_local_time is not None and not _LOCAL_TIME.match(self.until_local_time):
            raise ValueError("until_local_time is HH:MM, e.g. '09:00'")
        if self.seconds == 0 and self.until_local_time is None:
            raise ValueError("a wait needs a duration (days, hours, minutes) or until_local_time")
        return self


class WaitForAction(Duration):
    event: Literal[EVENTS]  # type: ignore[valid-type]


class Condition(_Strict):
    """A test on the member: {"field": "tier", "op": "in", "value": ["gold"]}, or all/any/not of others."""

    field: Literal[CONDITION_FIELDS] | None = None  # type: ignore[valid-type]
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists"] | None = None
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.field is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is one of: {field, op, value}, {all: [...]}, {any: [...]}, {not: ...}")
        if self.field is not None and self.op is None:
            raise ValueError(f"condition on {self.field!r} needs an op")
        return self


class BranchAction(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    if_: Condition = Field(alias="if")
    then: StepId
    else_: StepId = Field(alias="else")


class GrantPointsAction(_Strict):
    points: int = Field(gt=0, le=1_000_000)
    reason: Annotated[str, StringConstraints(min_length=3, max_length=200)]


class IssueCouponAction(_Strict):
    template: Name


class CreateTaskAction(_Strict):
    title: Annotated[str, StringConstraints(min_length=3, max_length=200)]
    assignee_role: Literal["marketer", "ops", "approver", "admin"] = "marketer"
    due_days: int = Field(default=2, ge=0, le=90)


class TagAction(_Strict):
    add: list[Name] = Field(default_factory=list, max_length=20)
    remove: list[Name] = Field(default_factory=list, max_length=20)


class FlagAction(_Strict):
    # Flags are tags with meaning to staff and segments (e.g. "pre_churn").
    set: Name | None = None
    clear: Name | None = None


class ExitAction(_Strict):
    pass


class Step(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: StepId
    next: StepId | None = None
    send: SendAction | None = None
    wait: WaitAction | None = None
    wait_for: WaitForAction | None = None
    on_event: StepId | None = None
    on_timeout: StepId | None = None
    branch: BranchAction | None = None
    grant_points: GrantPointsAction | None = None
    issue_coupon: IssueCouponAction | None = None
    create_task: CreateTaskAction | None = None
    tag: TagAction | None = None
    flag: FlagAction | None = None
    exit: ExitAction | None = None

    @model_validator(mode="after")
    def _exactly_one_action(self) -> Step:
        present = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(f"step {self.id!r} needs exactly one action of {', '.join(ACTIONS)}; has {present}")
        if (self.on_event or self.on_timeout) and self.wait_for is None:
            raise ValueError(f"step {self.id!r}: on_event/on_timeout belong to a wait_for step")
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)


class Trigger(_Strict):
    event: Literal[EVENTS]  # type: ignore[valid-type]
    # For `inactive`: days without a purchase; for `birthday`: days before the birthday.
    days: int | None = Field(default=None, ge=0, le=730)
    # Only members for whom this holds are enrolled.
    condition: Condition | None = None


class Definition(_Strict):
    kind: Kind
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    trigger: Trigger | None = None
    # never: once per member ever; after_exit: again once the previous run ended.
    reentry: Literal["never", "after_exit"] = "never"
    exit_on: list[Literal[EVENTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    steps: list[Step] = Field(min_length=1, max_length=100)


class Problem(BaseModel):
    path: str
    message: str


def _targets(step: Step, following: str | None) -> list[tuple[str, str]]:
    """(field, target id) of every step this one can continue with."""
    if step.exit is not None:
        return []
    if step.branch is not None:
        return [("branch.then", step.branch.then), ("branch.else", step.branch.else_)]
    if step.wait_for is not None:
        on_event = step.on_event or step.next or following
        on_timeout = step.on_timeout or step.next or following
        return [(name, target) for name, target in (("on_event", on_event), ("on_timeout", on_timeout)) if target]
    target = step.next or following
    return [("next", target)] if target else []


def successors(definition: Definition) -> dict[str, list[tuple[str, str]]]:
    ids = [step.id for step in definition.steps]
    return {
        step.id: _targets(step, ids[index + 1] if index + 1 < len(ids) else None)
        for index, step in enumerate(definition.steps)
    }


def validate(
    definition: Definition, *, templates: Iterable[tuple[str, str]], coupon_templates: Iterable[str]
) -> list[Problem]:
    """Problems a marketer can fix, each with the path of the field at fault: unknown templates or coupons,
    unknown or unreachable steps, loops, waits for an event without a timeout."""
    problems: list[Problem] = []
    known_templates = set(templates)
    known_coupons = set(coupon_templates)
    index_of: dict[str, int] = {}
    for index, step in enumerate(definition.steps):
        if step.id in index_of:
            problems.append(Problem(path=f"steps.{index}.id", message=f"duplicate step id {step.id!r}"))
        index_of.setdefault(step.id, index)
    graph = successors(definition)
    for index, step in enumerate(definition.steps):
        at = f"steps.{index}"
        for field, target in graph[step.id]:
            if target not in index_of:
                problems.append(Problem(path=f"{at}.{field}", message=f"no step has the id {target!r}"))
        if step.send is not None:
            if (step.send.channel, step.send.template) not in known_templates:
                problems.append(
                    Problem(
                        path=f"{at}.send.template",
                        message=f"unknown {step.send.channel} template {step.send.template!r}",
                    )
                )
            if step.send.coupon is not None and step.send.coupon not in known_coupons:
                problems.append(
                    Problem(path=f"{at}.send.coupon", message=f"unknown coupon template {step.send.coupon!r}")
                )
        if step.issue_coupon is not None and step.issue_coupon.template not in known_coupons:
            problems.append(
                Problem(
                    path=f"{at}.issue_coupon.template",
                    message=f"unknown coupon template {step.issue_coupon.template!r}",
                )
            )
        if step.wait_for is not None and step.wait_for.seconds == 0:
            problems.append(
                Problem(path=f"{at}.wait_for", message="a wait_for needs a timeout (days, hours or minutes)")
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


def evaluate(condition: Condition, facts: dict[str, Any]) -> bool:
    """Evaluate a condition over a member's facts (see CONDITION_FIELDS). Missing facts compare false."""
    return conditions.evaluate(condition, facts)
