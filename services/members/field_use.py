"""How conditions (journeys, rules) may test a custom member field: the operators each type supports and the
values that fit it, so a definition that could never hold as meant (`gt` on a select, an option the field
does not offer, text compared with a number field) is refused when it is saved, naming the part at fault.
Segments use `value_problem` for their own tests (services.segments.service.check)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import MemberField
from services.definitions import Problem
from services.definitions.conditions import ConditionLike
from services.members.fields import FieldType

ATTRIBUTE_PREFIX = "attributes."
ORDER_OPS = ("gt", "gte", "lt", "lte")
# What each type can be tested with. A multi-select holds a list: `contains` asks whether it has an option.
CONDITION_OPS: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("eq", "ne", "in", "not_in", "contains", "exists"),
    FieldType.NUMBER: ("eq", "ne", *ORDER_OPS, "in", "not_in", "exists"),
    FieldType.DATE: ("eq", "ne", *ORDER_OPS, "in", "not_in", "exists"),
    FieldType.BOOLEAN: ("eq", "ne", "exists"),
    FieldType.SINGLE_SELECT: ("eq", "ne", "in", "not_in", "exists"),
    FieldType.MULTI_SELECT: ("contains", "exists"),
}
_LIST_OPS = ("in", "not_in")


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with a test on a field, and which part of the condition it is (`field`, `op`, `value`,
    `value.2`)."""

    part: str
    message: str


async def definitions(session: AsyncSession) -> dict[str, MemberField]:
    """Every defined field by key: what a check of conditions or segments tests against."""
    rows = (await session.execute(select(MemberField))).scalars()
    return {field.key: field for field in rows}


def attribute_key(fact: str) -> str | None:
    """The field key of an `attributes.<key>` fact, None for any other fact."""
    return fact.removeprefix(ATTRIBUTE_PREFIX) if fact.startswith(ATTRIBUTE_PREFIX) else None


def unknown_field(key: str) -> str:
    return f"there is no member field {key!r} (GET /api/v1/member-fields)"


def value_problem(field: MemberField, value: Any) -> str | None:
    """Why one value cannot be a value of the field (one option, for either select type); None if it can."""
    match FieldType(field.type):
        case FieldType.TEXT:
            fits = isinstance(value, str)
            why = "the value must be text"
        case FieldType.NUMBER:
            fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            why = "the value must be a number (a JSON number, not text)"
        case FieldType.DATE:
            fits = _is_date(value)
            why = "the value must be a date as YYYY-MM-DD"
        case FieldType.BOOLEAN:
            fits = isinstance(value, bool)
            why = "the value must be true or false"
        case FieldType.SINGLE_SELECT | FieldType.MULTI_SELECT:
            fits = isinstance(value, str) and value in field.options
            why = f"the value must be one of its options: {', '.join(field.options)}"
    return None if fits else f"{field.key} is a {field.type} field: {why}"


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def condition_problems(field: MemberField, op: str | None, value: Any) -> list[FieldProblem]:
    """What does not fit in `attributes.<key> <op> <value>`: an operator the type does not support, or a value
    (each item of an in/not_in list) the field cannot hold. `exists` fits every field and takes no value."""
    allowed = CONDITION_OPS[FieldType(field.type)]
    if op not in allowed:
        hint = "; contains asks whether the member has an option" if field.type == FieldType.MULTI_SELECT else ""
        return [
            FieldProblem(
                "op", f"{op} does not fit {field.key}, a {field.type} field (it takes: {', '.join(allowed)}){hint}"
            )
        ]
    if op == "exists":
        return []
    if op in _LIST_OPS:
        if not isinstance(value, list):
            return [FieldProblem("value", f"{op} needs a list of values")]
        return [
            FieldProblem(f"value.{index}", message)
            for index, item in enumerate(value)
            if (message := value_problem(field, item)) is not None
        ]
    message = value_problem(field, value)
    return [] if message is None else [FieldProblem("value", message)]


def fact_keys(fields: Iterable[MemberField], *, personal: bool) -> list[str]:
    """The keys whose values become `attributes.<key>` facts; without `personal`, those of fields that hold
    no personal data only (journey facts, whose conditions are part of workflow history)."""
    return [field.key for field in fields if personal or not field.personal_data]


def attribute_facts(attributes: Mapping[str, Any] | None, keys: Iterable[str]) -> dict[str, Any]:
    """`attributes.<key>` facts for the given keys the member holds a value for."""
    held = attributes or {}
    return {f"{ATTRIBUTE_PREFIX}{key}": held[key] for key in keys if key in held}


def attribute_problems(
    tests: Iterable[tuple[str, ConditionLike]],
    fields: Mapping[str, MemberField],
    *,
    personal_refused: str | None = None,
) -> Iterator[Problem]:
    """Problems of the `attributes.<key>` tests among (path, test) pairs: the field must be defined and fit the
    test; with `personal_refused` (a message with {key}), a field holding personal data is refused with it."""
    for path, leaf in tests:
        key = attribute_key(leaf.field or "")
        if key is None:
            continue
        field = fields.get(key)
        if field is None:
            yield Problem(path=f"{path}.field", message=unknown_field(key))
        elif field.personal_data and personal_refused is not None:
            yield Problem(path=f"{path}.field", message=personal_refused.format(key=key))
        else:
            for bad in condition_problems(field, leaf.op, leaf.value):
                yield Problem(path=f"{path}.{bad.part}", message=bad.message)
