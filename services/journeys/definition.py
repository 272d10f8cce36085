"""Journey definitions: the data a marketer reads and edits, and its validation.

A definition is a list of steps. Each step has an `id` and exactly one action (`send`, `wait`, `wait_for`,
`branch`, `grant_points`, `issue_coupon`, `create_task`, `tag`, `flag`, `exit`, `send_survey`); it continues with the
next step in the list unless it names another (`next`, or `on_event`/`on_timeout` of a `wait_for`,
`then`/`else` of a `branch`). Steps may not loop, so every run ends (services.journeys.validation checks).

Each kind of step is its own model (SendStep, WaitStep, …); `Step` is their union, told apart by which
kind's key a step has, so stored definitions keep their shape and there is no `type` field. What journeys
share with rules (the strict base, durations, points, coupons, tasks, tags, flags) is services.definitions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from services.definitions import (
    CouponCode,
    CreateTaskAction,
    Duration,
    FlagAction,
    GrantPointsAction,
    IssueCouponAction,
    Name,
    Strict,
    TagAction,
    conditions,
    exactly_one,
    present_keys,
)

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
_LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

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
    # Care (services.care): a survey answered; a service ticket opened or closed.
    "survey_answered",
    "ticket_opened",
    "ticket_closed",
    # The calendar (services.intake.calendar, from the daily scan): points about to expire, a signup anniversary.
    "points_expiring",
    "signup_anniversary",
    # Tiers (services.intake.tier_review): a review lowered the tier; one that would lower it is coming.
    "tier_downgraded",
    "tier_at_risk",
    # Programme extras (services.intake.programme_events): a referrer rewarded; a paid plan started, renewed, ended.
    "referral_rewarded",
    "plan_started",
    "plan_renewed",
    "plan_ended",
)
CONDITION_FIELDS = (*conditions.MEMBER_FACTS, "last_wait")  # last_wait: how the previous wait_for ended
# What a trigger's event carries that its trigger condition may test (services.journeys.validation keeps these
# out of branches and other triggers' conditions): ids, keys, kinds and numbers, never personal data.
TRIGGER_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "survey_answered": ("event.score", "event.survey", "event.kind"),
    # points: what will expire that date (after spends); expires_on: YYYY-MM-DD; days_before: the reminder's lead.
    "points_expiring": ("event.points", "event.expires_on", "event.days_before"),
    "signup_anniversary": ("event.years",),
    "tier_at_risk": ("event.tier", "event.would_become", "event.amount_needed"),
    # points: what the referrer was paid (0 for a coupon); reward: points, coupon or none; plan: the plan's code;
    # reason: expired or cancelled.
    "referral_rewarded": ("event.points", "event.reward"),
    "plan_started": ("event.plan",),
    "plan_renewed": ("event.plan",),
    "plan_ended": ("event.plan", "event.reason"),
}
_EVENT_FIELDS = frozenset(name for names in TRIGGER_EVENT_FIELDS.values() for name in names)
# A custom member field (services.members.fields), by its key; journeys.check refuses undefined and personal ones.
_ATTRIBUTE_FIELD = re.compile(r"^attributes\.[a-z][a-z0-9_]{0,63}$")


class SendAction(Strict):
    channel: Literal["email", "sms"]
    template: Name
    # A coupon template code: a coupon is issued to the member and its code is given to the message.
    coupon: CouponCode | None = None
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


class Condition(Strict):
    """A test on the member: {"field": "tier", "op": "in", "value": ["gold"]}, or all/any/not of others.
    `field` is one of CONDITION_FIELDS or `attributes.<key>` of a custom member field."""

    field: Annotated[str, StringConstraints(max_length=100)] | None = None
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists"] | None = None
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str | None) -> str | None:
        if (
            value is not None
            and value not in CONDITION_FIELDS
            and value not in _EVENT_FIELDS
            and not _ATTRIBUTE_FIELD.match(value)
        ):
            raise ValueError(
                f"unknown field {value!r}: one of {', '.join(CONDITION_FIELDS)}, attributes.<key> of a"
                " custom member field, or in a trigger's condition an event field of the trigger"
            )
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.field is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is one of: {field, op, value}, {all: [...]}, {any: [...]}, {not: ...}")
        if self.field is not None and self.op is None:
            raise ValueError(f"condition on {self.field!r} needs an op")
        return self


class BranchAction(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    if_: Condition = Field(alias="if")
    then: StepId
    else_: StepId = Field(alias="else")


class ExitAction(Strict):
    pass


class SendSurveyAction(Strict):
    """Send the member a survey (services.care): a transactional invitation with the signed link of its answer
    page, recorded as a send of the journey (or of the campaign the run belongs to)."""

    survey: Name
    channel: Literal["email", "sms"] = "email"


# --- steps: one model per kind, told apart by which kind's key the step has ------------------------------


class _Step(Strict):
    """What every step has: its id, and the step it continues with when that is not the next in the list."""

    action: ClassVar[str]

    id: StepId
    next: StepId | None = None

    @property
    def body(self) -> BaseModel:
        """The step's own part, e.g. the SendAction of a send step."""
        body: BaseModel = getattr(self, self.action)
        return body


class SendStep(_Step):
    action: ClassVar[str] = "send"
    send: SendAction


class WaitStep(_Step):
    action: ClassVar[str] = "wait"
    wait: WaitAction


class WaitForStep(_Step):
    action: ClassVar[str] = "wait_for"
    wait_for: WaitForAction
    on_event: StepId | None = None
    on_timeout: StepId | None = None


class BranchStep(_Step):
    action: ClassVar[str] = "branch"
    branch: BranchAction


class GrantPointsStep(_Step):
    action: ClassVar[str] = "grant_points"
    grant_points: GrantPointsAction


class IssueCouponStep(_Step):
    action: ClassVar[str] = "issue_coupon"
    issue_coupon: IssueCouponAction


class CreateTaskStep(_Step):
    action: ClassVar[str] = "create_task"
    create_task: CreateTaskAction


class TagStep(_Step):
    action: ClassVar[str] = "tag"
    tag: TagAction


class FlagStep(_Step):
    action: ClassVar[str] = "flag"
    flag: FlagAction


class ExitStep(_Step):
    action: ClassVar[str] = "exit"
    exit: ExitAction


class SendSurveyStep(_Step):
    action: ClassVar[str] = "send_survey"
    send_survey: SendSurveyAction


STEP_TYPES: tuple[type[_Step], ...] = (
    SendStep,
    WaitStep,
    WaitForStep,
    BranchStep,
    GrantPointsStep,
    IssueCouponStep,
    CreateTaskStep,
    TagStep,
    FlagStep,
    ExitStep,
    SendSurveyStep,
)
ACTIONS = tuple(step.action for step in STEP_TYPES)
_NULL_MEANS_ABSENT = frozenset({*ACTIONS, "on_event", "on_timeout"})


def _one_kind(value: Any) -> Any:
    """Before a model is picked: a step has exactly one kind, and on_event/on_timeout only on a wait_for. A
    kind or route given as null counts as absent, as it did when a step was one model of optional fields."""
    if not isinstance(value, dict):
        return value
    step_id = value.get("id")
    what = f"step {step_id!r}" if isinstance(step_id, str) else "a step"
    if exactly_one(value, ACTIONS, what=what) != "wait_for" and (value.get("on_event") or value.get("on_timeout")):
        raise ValueError(f"{what}: on_event/on_timeout belong to a wait_for step")
    return {key: item for key, item in value.items() if item is not None or key not in _NULL_MEANS_ABSENT}


def _kind_of(value: Any) -> str | None:
    """The union's tag: the kind's key of a step's JSON (after _one_kind), or the kind of a step model."""
    if isinstance(value, _Step):
        return value.action
    if isinstance(value, dict):
        present = present_keys(value, ACTIONS)
        return present[0] if len(present) == 1 else None
    return None


AnyStep = (
    SendStep
    | WaitStep
    | WaitForStep
    | BranchStep
    | GrantPointsStep
    | IssueCouponStep
    | CreateTaskStep
    | TagStep
    | FlagStep
    | ExitStep
    | SendSurveyStep
)
# A step as stored: {"id": ..., "<kind>": {...}, ...}; the kind is the key present, there is no type field.
Step = Annotated[
    Annotated[SendStep, Tag("send")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[GrantPointsStep, Tag("grant_points")]
    | Annotated[IssueCouponStep, Tag("issue_coupon")]
    | Annotated[CreateTaskStep, Tag("create_task")]
    | Annotated[TagStep, Tag("tag")]
    | Annotated[FlagStep, Tag("flag")]
    | Annotated[ExitStep, Tag("exit")]
    | Annotated[SendSurveyStep, Tag("send_survey")],
    Discriminator(
        _kind_of,
        custom_error_type="step_kind",
        custom_error_message=f"a step is an object with an id and exactly one of {', '.join(ACTIONS)}",
    ),
    BeforeValidator(_one_kind),
]


def error_field(loc: Sequence[int | str]) -> str:
    """A validation error's location as a field path, without the kind pydantic puts in for the union:
    ("steps", 0, "send", "send", "template") is "steps.0.send.template"."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "steps" and isinstance(parts[1], int) and parts[2] in ACTIONS:
        del parts[2]
    return ".".join(str(part) for part in parts)


class Trigger(Strict):
    event: Literal[EVENTS]  # type: ignore[valid-type]
    # For `inactive`: days without a purchase; for `birthday`: days before the birthday.
    days: int | None = Field(default=None, ge=0, le=730)
    # Only members for whom this holds are enrolled.
    condition: Condition | None = None


class Definition(Strict):
    kind: Kind
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    trigger: Trigger | None = None
    # never: once per member ever; after_exit: again once the previous run ended.
    reentry: Literal["never", "after_exit"] = "never"
    exit_on: list[Literal[EVENTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    # The step from which `exit_on` applies: before the run reaches it an exit event is kept, not acted on, so
    # an order seconds after sign-up never cancels the welcome message. None: from the first step.
    exit_from: StepId | None = None
    steps: list[Step] = Field(min_length=1, max_length=100)


def stored(definition: Definition) -> dict[str, Any]:
    """The JSON a definition is stored as (and loaded from by the journey workflow)."""
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=False)


def _targets(step: AnyStep, following: str | None) -> list[tuple[str, str]]:
    """(field, target id) of every step this one can continue with."""
    match step:
        case ExitStep():
            return []
        case BranchStep(branch=branch):
            return [("branch.then", branch.then), ("branch.else", branch.else_)]
        case WaitForStep():
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


def evaluate(condition: Condition, facts: dict[str, Any]) -> bool:
    """Evaluate a condition over a member's facts (see CONDITION_FIELDS). Missing facts compare false."""
    return conditions.evaluate(condition, facts)
