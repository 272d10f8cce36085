"""How conditions may test a custom field: the operators each type takes and the values that fit it."""

from __future__ import annotations

from typing import Any

import pytest

from models import MemberField
from services.members import field_use


def _field(field_type: str, options: list[str] | None = None) -> MemberField:
    return MemberField(key="f", type=field_type, options=options or [], personal_data=False)


SIZES = ["s", "m", "l"]
FITTING: list[tuple[MemberField, str, Any]] = [
    (_field("text"), "contains", "Jing"),
    (_field("text"), "in", ["a", "b"]),
    (_field("number"), "gte", 42),
    (_field("number"), "eq", 19.99),
    (_field("number"), "not_in", [1, 2.5]),
    (_field("date"), "lt", "2026-02-28"),
    (_field("date"), "in", ["2026-01-01"]),
    (_field("boolean"), "eq", False),
    (_field("single_select", SIZES), "in", ["s", "l"]),
    (_field("single_select", SIZES), "ne", "m"),
    (_field("multi_select", SIZES), "contains", "m"),
    (_field("multi_select", SIZES), "exists", None),
]
MISFITTING: list[tuple[MemberField, str, Any, str]] = [
    (_field("boolean"), "gt", True, "op"),
    (_field("single_select", SIZES), "gte", "m", "op"),
    (_field("multi_select", SIZES), "eq", "m", "op"),
    (_field("number"), "contains", 1, "op"),
    (_field("number"), "eq", "42", "value"),
    (_field("number"), "gt", True, "value"),
    (_field("date"), "gt", "2026-02-30", "value"),
    (_field("date"), "gt", 20260101, "value"),
    (_field("text"), "eq", 3, "value"),
    (_field("boolean"), "eq", "true", "value"),
    (_field("single_select", SIZES), "eq", "xl", "value"),
    (_field("single_select", SIZES), "in", ["s", "xl"], "value.1"),
    (_field("single_select", SIZES), "in", "s", "value"),
    (_field("multi_select", SIZES), "contains", "xl", "value"),
]


@pytest.mark.parametrize(("field", "op", "value"), FITTING, ids=[f"{f.type}-{o}" for f, o, _ in FITTING])
def test_a_test_that_fits_the_type_has_no_problem(field: MemberField, op: str, value: Any) -> None:
    assert field_use.condition_problems(field, op, value) == []


@pytest.mark.parametrize(
    ("field", "op", "value", "part"), MISFITTING, ids=[f"{f.type}-{o}-{v}" for f, o, v, _ in MISFITTING]
)
def test_a_test_that_does_not_fit_names_the_part_at_fault(field: MemberField, op: str, value: Any, part: str) -> None:
    problems = field_use.condition_problems(field, op, value)
    assert [p.part for p in problems] == [part]
    expected = {"op": f"{op} does not fit f, a {field.type} field"}.get(part, f"f is a {field.type} field: ")
    if not isinstance(value, list) and op == "in":
        expected = "in needs a list of values"
    assert problems[0].message.startswith(expected), problems[0].message


def test_only_non_personal_fields_become_journey_facts() -> None:
    fields = [
        MemberField(key="size", type="text", options=[], personal_data=False),
        MemberField(key="passport", type="text", options=[], personal_data=True),
    ]
    attributes = {"size": "m", "passport": "E1234", "legacy": 1}
    assert field_use.attribute_facts(attributes, field_use.fact_keys(fields, personal=False)) == {
        "attributes.size": "m"
    }
    assert field_use.attribute_facts(attributes, field_use.fact_keys(fields, personal=True)) == {
        "attributes.size": "m",
        "attributes.passport": "E1234",
    }
