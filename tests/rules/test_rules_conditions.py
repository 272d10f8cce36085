"""The rule condition language on its own: operators, all/any/not, missing facts, exact decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.definitions.conditions import evaluate
from services.rules.definition import RuleCondition, first_failing

FACTS: dict[str, Any] = {
    "tier": "silver",
    "tags": ["vip", "t_1"],
    "lifetime_spend": Decimal("5000.01"),
    "order_count": 3,
    "days_since_last_purchase": None,
    "attributes.account_manager": "mei",
    "event.amount": Decimal("0.30"),
    "event.properties.rating": "5",
    "attributes.weird": "sNaN",
    "attributes.wedding": "2024-09-30",
    "attributes.note": "2024-99-99",  # looks like a date, is none: compares false, never raises
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "tier", "op": "eq", "value": "silver"}, True),
        ({"field": "tier", "op": "ne", "value": "silver"}, False),
        ({"field": "tier", "op": "in", "value": ["gold", "silver"]}, True),
        ({"field": "tier", "op": "not_in", "value": ["gold", "silver"]}, False),
        ({"field": "tags", "op": "contains", "value": "vip"}, True),
        ({"field": "attributes.account_manager", "op": "contains", "value": "me"}, True),
        ({"field": "lifetime_spend", "op": "gt", "value": 5000}, True),
        ({"field": "lifetime_spend", "op": "gt", "value": "5000.01"}, False),
        ({"field": "lifetime_spend", "op": "gte", "value": "5000.01"}, True),
        ({"field": "event.amount", "op": "eq", "value": 0.3}, True),  # decimals, not binary floats
        ({"field": "order_count", "op": "lt", "value": 3}, False),
        ({"field": "order_count", "op": "lte", "value": 3}, True),
        ({"field": "event.properties.rating", "op": "gte", "value": 4}, True),
        ({"field": "days_since_last_purchase", "op": "gt", "value": 30}, False),  # missing compares false
        ({"field": "days_since_last_purchase", "op": "exists"}, False),
        ({"field": "attributes.account_manager", "op": "exists"}, True),
        ({"field": "attributes.weird", "op": "gt", "value": 1}, False),
        ({"field": "tier", "op": "gt", "value": 1}, False),
        # ISO dates order chronologically (as a custom date field stores them), and only against dates.
        ({"field": "attributes.wedding", "op": "gt", "value": "2024-09-29"}, True),
        ({"field": "attributes.wedding", "op": "gt", "value": "2024-09-30"}, False),
        ({"field": "attributes.wedding", "op": "gte", "value": "2024-09-30"}, True),
        ({"field": "attributes.wedding", "op": "lt", "value": "2024-10-01"}, True),
        ({"field": "attributes.wedding", "op": "lt", "value": "2023-12-31"}, False),
        ({"field": "attributes.wedding", "op": "lte", "value": "2024-09-30"}, True),
        ({"field": "attributes.wedding", "op": "eq", "value": "2024-09-30"}, True),
        ({"field": "attributes.wedding", "op": "gt", "value": 20240929}, False),
        ({"field": "attributes.wedding", "op": "lt", "value": "next year"}, False),
        ({"field": "attributes.note", "op": "lt", "value": "2025-01-01"}, False),
        ({"field": "attributes.missing", "op": "lt", "value": "2025-01-01"}, False),
        (
            {
                "all": [
                    {"field": "tier", "op": "eq", "value": "silver"},
                    {"field": "order_count", "op": "gt", "value": 1},
                ]
            },
            True,
        ),
        (
            {"any": [{"field": "tier", "op": "eq", "value": "gold"}, {"field": "order_count", "op": "gt", "value": 5}]},
            False,
        ),
        ({"not": {"field": "tier", "op": "eq", "value": "gold"}}, True),
        ({"all": []}, True),
        ({"any": []}, False),
    ],
)
def test_operators(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate(RuleCondition.model_validate(condition), FACTS) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "tier", "op": "eq", "value": "x", "all": []},
        {"field": "tier"},
        {"field": "shoe_size", "op": "eq", "value": 1},
        {"field": "tier", "op": "in", "value": "gold"},
        {"field": "tier", "op": "like", "value": "g%"},
        {},
    ],
)
def test_malformed_conditions_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="condition|field|op|list|Input should be"):
        RuleCondition.model_validate(condition)


def test_first_failing_names_the_part_that_is_false() -> None:
    condition = RuleCondition.model_validate(
        {"all": [{"field": "tier", "op": "eq", "value": "silver"}, {"field": "order_count", "op": "gt", "value": 9}]}
    )
    assert first_failing(condition, FACTS) == "conditions.all.1: order_count gt 9 is false (it is 3)"
    assert first_failing(RuleCondition.model_validate({"field": "tier", "op": "eq", "value": "silver"}), FACTS) is None
