"""One evaluator for the condition trees that journeys (branches, triggers) and rules share: comparisons on
named facts, combined with all / any / not."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

# The member facts every condition may test (services.journeys.triggers.member_facts computes them); journeys
# and rules each add the facts of their own context.
MEMBER_FACTS = (
    "tier",
    "tags",
    "lifetime_spend",
    "order_count",
    "days_since_last_purchase",
    "days_since_signup",
    "consent.email",
    "consent.sms",
    "locale",
)
# What kind of value each member fact holds, so builders offer the operators and inputs that fit it.
FACT_TYPES: dict[str, str] = {
    "tier": "tier",
    "tags": "tags",
    "lifetime_spend": "money",
    "order_count": "number",
    "days_since_last_purchase": "days",
    "days_since_signup": "days",
    "consent.email": "boolean",
    "consent.sms": "boolean",
    "locale": "locale",
}


class ConditionLike(Protocol):
    """The shape both journey and rule conditions have: one of {field, op, value}, all, any or not."""

    @property
    def field(self) -> str | None: ...
    @property
    def op(self) -> str | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def all(self) -> Sequence[ConditionLike] | None: ...
    @property
    def any(self) -> Sequence[ConditionLike] | None: ...
    @property
    def not_(self) -> ConditionLike | None: ...


def as_number(value: Any) -> Decimal | None:
    """A fact or an expected value as an exact decimal; None for booleans, text and NaN (which would compare
    as an error rather than as false)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return None if number.is_nan() else number


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def as_date(value: Any) -> date | None:
    """A fact or an expected value as a calendar date when it is an ISO `YYYY-MM-DD` string (how date fields
    are stored); None otherwise, so a date never compares with a number or with free text."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _ordered(actual: Any, expected: Any) -> tuple[Decimal, Decimal] | None:
    """Both sides as numbers, or else both as dates (as day numbers, so they order chronologically): what
    gt/gte/lt/lte can compare; None when neither fits."""
    left, right = as_number(actual), as_number(expected)
    if left is not None and right is not None:
        return left, right
    day, other = as_date(actual), as_date(expected)
    if day is not None and other is not None:
        return Decimal(day.toordinal()), Decimal(other.toordinal())
    return None


def leaves(condition: ConditionLike, path: str) -> Iterator[tuple[str, ConditionLike]]:
    """Every {field, op, value} test in a tree, with its path (`conditions.all.0`, `trigger.condition.not`),
    so a check can name the part at fault."""
    if condition.field is not None:
        yield path, condition
    for name, parts in (("all", condition.all), ("any", condition.any)):
        for index, part in enumerate(parts or ()):
            yield from leaves(part, f"{path}.{name}.{index}")
    if condition.not_ is not None:
        yield from leaves(condition.not_, f"{path}.not")


def evaluate(condition: ConditionLike, facts: dict[str, Any]) -> bool:
    """Evaluate over a dict of facts. A missing fact makes a comparison false (and `not` of it true); numbers
    compare exactly, as decimals, so 1000 equals 1000.0 and 0.1 + 0.2 is not 0.30000000000000004; ISO dates
    (`YYYY-MM-DD`, as date fields hold them) order chronologically under gt/gte/lt/lte."""
    if condition.all is not None:
        return all(evaluate(part, facts) for part in condition.all)
    if condition.any is not None:
        return any(evaluate(part, facts) for part in condition.any)
    if condition.not_ is not None:
        return not evaluate(condition.not_, facts)
    assert condition.field is not None
    actual = facts.get(condition.field)
    expected = condition.value
    match condition.op:
        case "exists":
            return actual is not None
        case "eq" | "ne":
            left, right = as_number(actual), as_number(expected)
            same = left == right if left is not None and right is not None else actual == expected
            return bool(same) if condition.op == "eq" else not same
        case "in":
            return isinstance(expected, list) and actual in expected
        case "not_in":
            return isinstance(expected, list) and actual not in expected
        case "contains":
            if isinstance(actual, str):
                return isinstance(expected, str) and expected in actual
            return isinstance(actual, list) and expected in actual
    pair = _ordered(actual, expected)
    if pair is None:
        return False
    left, right = pair
    match condition.op:
        case "gt":
            return left > right
        case "gte":
            return left >= right
        case "lt":
            return left < right
        case "lte":
            return left <= right
    return False
