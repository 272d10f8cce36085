"""Rule definitions: IF a trigger AND conditions THEN actions, as data a marketer reads, and its validation.

A rule reacts to one trigger (an event the shop reports, an order, a tier change, or a daily time trigger),
tests conditions on the member and the event (all/any/not trees, in the style of journey conditions), and
takes its actions in order. `priority` orders the rules of one trigger (lower runs first); a rule with
`stop_processing` that fires ends the evaluation of that event. `limit` caps how often it fires per member."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from models import MemberField
from services.definitions import (
    CouponCode,
    CreateTaskAction,
    Duration,
    FlagAction,
    IssueCouponAction,
    Points,
    Problem,
    Reason,
    Strict,
    TagAction,
    exactly_one,
)
from services.definitions.conditions import MEMBER_FACTS, evaluate, leaves
from services.members import field_use

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

TRIGGERS = (
    "order_completed",
    "signed_up",
    "checked_in",
    "review_posted",
    "profile_completed",
    "cart_abandoned",
    "shared",
    "tier_changed",
    "ticket_opened",
    "ticket_closed",
    "birthday",
    "inactive_days",
    # Care (services.care): a survey answered.
    "survey_answered",
    # The calendar (services.intake.calendar, from the daily scan): points about to expire, a signup anniversary.
    "points_expiring",
    "signup_anniversary",
    # Tiers (services.intake.tier_review): a review that would lower the tier comes in at_risk_days.
    "tier_at_risk",
    # Programme extras (services.intake.programme_events): a referrer rewarded; a paid plan started, renewed, ended.
    "referral_rewarded",
    "plan_started",
    "plan_renewed",
    "plan_ended",
)
TIME_TRIGGERS = ("birthday", "inactive_days")
LIMITS = ("none", "once", "once_per_day", "once_per_week", "once_per_month", "once_per_value")
MEMBER_FIELDS = (*MEMBER_FACTS, "birthday_month")
# Event fields each trigger offers besides `event.properties.<key>` (what the shop sent with a behaviour event).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "order_completed": ("event.amount", "event.currency", "event.first_purchase", "event.item_count"),
    "tier_changed": ("event.old_tier", "event.new_tier", "event.direction"),
    "inactive_days": ("event.days",),
    "birthday": ("event.days_before",),
    # score: 0-10 (NPS), 1-5 (CSAT), none for a custom survey; survey: its key; kind: nps, csat or custom.
    "survey_answered": ("event.score", "event.survey", "event.kind"),
    # points: what will expire that date (after spends); expires_on: YYYY-MM-DD; days_before: the reminder's lead.
    "points_expiring": ("event.points", "event.expires_on", "event.days_before"),
    "signup_anniversary": ("event.years",),
    # amount_needed: spend (or points) still needed to keep the tier; review_on: the review's date (ISO).
    "tier_at_risk": ("event.tier", "event.would_become", "event.amount_needed", "event.review_on"),
    # points: what the referrer was paid (0 for a coupon); reward: points, coupon or none.
    "referral_rewarded": ("event.points", "event.reward"),
    # plan: the plan's code; reason: expired (the term ran out) or cancelled.
    "plan_started": ("event.plan",),
    "plan_renewed": ("event.plan",),
    "plan_ended": ("event.plan", "event.reason"),
}
# Triggers whose events carry what the shop sent (`event.properties.<key>`): the behaviour events.
# The service tickets' triggers (services.care.triggers) carry the ticket's id only: no event fields to test.
_SYSTEM_TRIGGERS = (
    "order_completed",
    "tier_changed",
    "tier_at_risk",
    "ticket_opened",
    "ticket_closed",
    "points_expiring",
    "signup_anniversary",
    "referral_rewarded",
    "plan_started",
    "plan_renewed",
    "plan_ended",
    *TIME_TRIGGERS,
)
PROPERTY_TRIGGERS = tuple(t for t in TRIGGERS if t not in _SYSTEM_TRIGGERS)
_ATTRIBUTE = re.compile(r"^attributes\.[A-Za-z0-9_]{1,64}$")
_PROPERTY = re.compile(r"^event\.properties\.[A-Za-z0-9_]{1,64}$")
MAX_CONDITION_DEPTH = 10
MAX_CONDITIONS = 200
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists")


class RuleTrigger(Strict):
    event: Literal[TRIGGERS]  # type: ignore[valid-type]
    # inactive_days: days since the last purchase (required); birthday: days before the birthday.
    days: int | None = Field(default=None, ge=1, le=730)
    days_before: int | None = Field(default=None, ge=0, le=60)

    @model_validator(mode="after")
    def _params_fit(self) -> RuleTrigger:
        if self.event == "inactive_days" and self.days is None:
            raise ValueError("inactive_days needs `days` (days since the last purchase)")
        if self.days is not None and self.event != "inactive_days":
            raise ValueError("`days` belongs to the inactive_days trigger")
        if self.days_before is not None and self.event != "birthday":
            raise ValueError("`days_before` belongs to the birthday trigger")
        return self


class RuleCondition(Strict):
    """{"field": "tier", "op": "in", "value": ["gold"]}, or {"all": [...]}, {"any": [...]}, {"not": {...}}."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: Annotated[str, StringConstraints(max_length=100)] | None = None
    op: Literal[OPS] | None = None  # type: ignore[valid-type]
    value: Any = None
    all: list[RuleCondition] | None = Field(default=None, max_length=50)
    any: list[RuleCondition] | None = Field(default=None, max_length=50)
    not_: RuleCondition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> RuleCondition:
        forms = [self.field is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is one of: {field, op, value}, {all: [...]}, {any: [...]}, {not: ...}")
        if self.field is not None:
            if self.op is None:
                raise ValueError(f"condition on {self.field!r} needs an op")
            if not known_field(self.field):
                raise ValueError(
                    f"unknown field {self.field!r}: a member field ({', '.join(MEMBER_FIELDS)}), "
                    "attributes.<key>, event.properties.<key> or an event field of the trigger"
                )
            if self.op in ("in", "not_in") and not isinstance(self.value, list):
                raise ValueError(f"{self.op} needs a list value")
        return self


def known_field(field: str) -> bool:
    return (
        field in MEMBER_FIELDS
        or bool(_ATTRIBUTE.match(field))
        or bool(_PROPERTY.match(field))
        or any(field in fields for fields in EVENT_FIELDS.values())
    )


class RuleGrantPointsAction(Strict):
    """A journey's grant (services.definitions.GrantPointsAction) gives a fixed number with a reason; a rule's
    gives either a fixed number, or `per_currency_unit` points per unit of the order amount, rounded down to a
    whole point (129.90 at 1 → 129; at 1.5 → 194), and may leave the reason to the default. An award that
    rounds to 0 grants nothing."""

    points: Points | None = None
    per_currency_unit: Decimal | None = Field(default=None, gt=0, le=1000, max_digits=10, decimal_places=4)
    reason: Reason | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> RuleGrantPointsAction:
        if (self.points is None) == (self.per_currency_unit is None):
            raise ValueError("give exactly one of `points` (fixed) or `per_currency_unit` (a rate)")
        return self


class StartJourneyAction(Strict):
    kind: Key


class SendMessageAction(Strict):
    channel: Literal["email", "sms"]
    template: Key
    # A coupon template: a coupon is issued when the message goes and its code is given to the message.
    coupon: CouponCode | None = None
    category: Literal["marketing", "transactional"] = "marketing"
    # Send this long after the event instead of at once (e.g. 2 hours after a cart was left).
    delay: Duration | None = None
    # With a delay: send nothing if the member completed an order in the meantime.
    unless_ordered: bool = False

    @model_validator(mode="after")
    def _delay_for_unless(self) -> SendMessageAction:
        if self.unless_ordered and (self.delay is None or self.delay.seconds == 0):
            raise ValueError("unless_ordered needs a delay to order within")
        return self


ACTIONS = ("grant_points", "issue_coupon", "start_journey", "send_message", "create_task", "tag", "flag")


class RuleAction(Strict):
    """Exactly one of the actions, e.g. {"grant_points": {"points": 10}}."""

    grant_points: RuleGrantPointsAction | None = None
    issue_coupon: IssueCouponAction | None = None
    start_journey: StartJourneyAction | None = None
    send_message: SendMessageAction | None = None
    create_task: CreateTaskAction | None = None
    tag: TagAction | None = None
    flag: FlagAction | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RuleAction:
        exactly_one(dict(self), ACTIONS, what="an action")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)


class RuleDefinition(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    trigger: RuleTrigger
    conditions: RuleCondition | None = None
    actions: list[RuleAction] = Field(min_length=1, max_length=20)
    # Lower runs first; ties run in name order.
    priority: int = Field(default=100, ge=0, le=10_000)
    # When this rule fires, rules after it are not evaluated for the same event.
    stop_processing: bool = False
    # Per member: every matching event (none), once ever, once per calendar day / ISO week / month in the
    # member's own time zone, or once per distinct value of the event property `limit_by`.
    limit: Literal[LIMITS] = "none"  # type: ignore[valid-type]
    limit_by: Key | None = None
    # Only when creating (and, if given, when publishing): whether the rule is live. Not part of a version.
    enabled: bool | None = None

    @field_validator("conditions")
    @classmethod
    def _bounded(cls, value: RuleCondition | None) -> RuleCondition | None:
        # Evaluated for every event of the trigger: keep the tree small enough to read and to run.
        nodes = 0
        stack: list[tuple[RuleCondition | None, int]] = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if node is None:
                continue
            nodes += 1
            if depth > MAX_CONDITION_DEPTH or nodes > MAX_CONDITIONS:
                raise ValueError(
                    f"conditions nest at most {MAX_CONDITION_DEPTH} deep, with at most {MAX_CONDITIONS} parts"
                )
            stack.extend((part, depth + 1) for part in [*(node.all or []), *(node.any or []), node.not_])
        return value

    @model_validator(mode="after")
    def _limit_by(self) -> RuleDefinition:
        if (self.limit == "once_per_value") != (self.limit_by is not None):
            raise ValueError("limit once_per_value goes with `limit_by` (an event property name), and only it")
        return self


def _field_problems(condition: RuleCondition, fields: Mapping[str, MemberField]) -> Iterator[Problem]:
    """Tests of `attributes.<key>`: the field must be defined and fit the test. Rules run outside workflow
    history, so fields holding personal data may be tested."""
    return field_use.attribute_problems(leaves(condition, "conditions"), fields)


def validate(
    rule: RuleDefinition,
    *,
    templates: Iterable[tuple[str, str]],
    coupon_templates: Iterable[str],
    journey_kinds: Iterable[str],
    fields: Mapping[str, MemberField] | None = None,
) -> list[Problem]:
    """Problems a marketer can fix, each with the path of the field at fault: unknown references (message
    and coupon templates, journeys, custom member fields), tests that do not fit a custom field's type or
    options, event fields the trigger does not have, rates without an amount."""
    problems: list[Problem] = []
    known_templates, known_coupons, known_journeys = set(templates), set(coupon_templates), set(journey_kinds)
    trigger = rule.trigger.event
    if rule.conditions is not None:
        problems.extend(_field_problems(rule.conditions, fields or {}))
        for at, leaf in leaves(rule.conditions, "conditions"):
            path, field = f"{at}.field", leaf.field or ""
            if field in MEMBER_FIELDS or _ATTRIBUTE.match(field):
                continue
            if _PROPERTY.match(field):
                if trigger not in PROPERTY_TRIGGERS:
                    problems.append(Problem(path=path, message=f"the {trigger} trigger has no event properties"))
                continue
            if field not in EVENT_FIELDS.get(trigger, ()):
                offered = ", ".join(EVENT_FIELDS.get(trigger, ())) or "none besides event.properties.<key>"
                problems.append(Problem(path=path, message=f"{trigger} has no {field} (it has: {offered})"))
    if rule.limit == "once_per_value" and trigger not in PROPERTY_TRIGGERS:
        problems.append(Problem(path="limit", message=f"the {trigger} trigger has no event properties to limit by"))
    for index, action in enumerate(rule.actions):
        at = f"actions.{index}"
        if action.grant_points is not None and action.grant_points.per_currency_unit is not None:
            if trigger != "order_completed":
                problems.append(
                    Problem(
                        path=f"{at}.grant_points.per_currency_unit",
                        message="a rate needs an order amount: only with the order_completed trigger",
                    )
                )
        if action.issue_coupon is not None and action.issue_coupon.template not in known_coupons:
            problems.append(
                Problem(
                    path=f"{at}.issue_coupon.template",
                    message=f"unknown coupon template {action.issue_coupon.template!r}",
                )
            )
        if action.start_journey is not None and action.start_journey.kind not in known_journeys:
            problems.append(
                Problem(path=f"{at}.start_journey.kind", message=f"unknown journey {action.start_journey.kind!r}")
            )
        send = action.send_message
        if send is not None:
            if (send.channel, send.template) not in known_templates:
                problems.append(
                    Problem(
                        path=f"{at}.send_message.template", message=f"unknown {send.channel} template {send.template!r}"
                    )
                )
            if send.coupon is not None and send.coupon not in known_coupons:
                problems.append(
                    Problem(path=f"{at}.send_message.coupon", message=f"unknown coupon template {send.coupon!r}")
                )
    return problems


# --- evaluation ------------------------------------------------------------------------------------------


def _shown(fact: Any) -> str:
    # Money facts are Decimals: a marketer reads 120.00, not Decimal('120.00').
    return str(fact) if isinstance(fact, Decimal) else repr(fact)


def first_failing(condition: RuleCondition, facts: dict[str, Any], path: str = "conditions") -> str | None:
    """A readable reason why a condition is false (for the dry run), or None when it holds."""
    if evaluate(condition, facts):
        return None
    if condition.all is not None:
        for index, part in enumerate(condition.all):
            reason = first_failing(part, facts, f"{path}.all.{index}")
            if reason is not None:
                return reason
    if condition.field is not None:
        actual = _shown(facts.get(condition.field))
        return f"{path}: {condition.field} {condition.op} {condition.value!r} is false (it is {actual})"
    return f"{path} is false"
