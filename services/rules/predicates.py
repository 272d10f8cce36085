"""Rule conditions compiled to Python closures, once per rule version.

`services.definitions.conditions.evaluate` walks the pydantic tree and converts the expected value of each
test (to a decimal, to a date) on every call. A rule's condition is evaluated for every event of its
trigger, so here the tree is walked once: each test becomes a closure with its expected value already
converted. The semantics are exactly `evaluate`'s (tests/rules/test_rules_predicates.py checks both agree)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.definitions.conditions import as_date, as_number
from services.rules.definition import RuleCondition

Facts = dict[str, Any]
Predicate = Callable[[Facts], bool]


def always(_: Facts) -> bool:
    return True


def compile_condition(condition: RuleCondition | None) -> Predicate:
    """A function of the facts that says whether the condition holds; no condition always holds."""
    if condition is None:
        return always
    if condition.all is not None:
        parts = tuple(compile_condition(part) for part in condition.all)
        return lambda facts: all(part(facts) for part in parts)
    if condition.any is not None:
        alternatives = tuple(compile_condition(part) for part in condition.any)
        return lambda facts: any(part(facts) for part in alternatives)
    if condition.not_ is not None:
        negated = compile_condition(condition.not_)
        return lambda facts: not negated(facts)
    assert condition.field is not None
    assert condition.op is not None
    return _leaf(condition.field, condition.op, condition.value)


def _leaf(field: str, op: str, expected: Any) -> Predicate:
    if op == "exists":
        return lambda facts: facts.get(field) is not None
    if op in ("eq", "ne"):
        return _equality(field, expected, negate=op == "ne")
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            return lambda _: False
        if op == "in":
            return lambda facts: facts.get(field) in expected
        return lambda facts: facts.get(field) not in expected
    if op == "contains":
        return _contains(field, expected)
    return _ordering(field, op, expected)


def _equality(field: str, expected: Any, *, negate: bool) -> Predicate:
    right = as_number(expected)

    def same(facts: Facts) -> bool:
        actual = facts.get(field)
        if right is not None:
            left = as_number(actual)
            if left is not None:
                return left == right
        return bool(actual == expected)

    if negate:
        return lambda facts: not same(facts)
    return same


def _contains(field: str, expected: Any) -> Predicate:
    def contains(facts: Facts) -> bool:
        actual = facts.get(field)
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        return isinstance(actual, list) and expected in actual

    return contains


_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": lambda left, right: left > right,
    "gte": lambda left, right: left >= right,
    "lt": lambda left, right: left < right,
    "lte": lambda left, right: left <= right,
}


def _ordering(field: str, op: str, expected: Any) -> Predicate:
    """Numbers compare as decimals; otherwise ISO dates compare as day numbers; anything else is false."""
    compare = _COMPARE.get(op)
    if compare is None:
        return lambda _: False
    right_number = as_number(expected)
    right_date = as_date(expected)
    right_day = Decimal(right_date.toordinal()) if right_date is not None else None

    def ordered(facts: Facts) -> bool:
        actual = facts.get(field)
        if right_number is not None:
            left = as_number(actual)
            if left is not None:
                return compare(left, right_number)
        if right_day is not None:
            day = as_date(actual)
            if day is not None:
                return compare(Decimal(day.toordinal()), right_day)
        return False

    return ordered
