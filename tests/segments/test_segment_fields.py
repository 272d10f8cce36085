"""Segments on custom member fields, through the API on real Postgres: select, number, date and multi-select
tests count and sample the right members (and `not` the exact rest); tests on fields that do not exist or do
not fit are 422 naming the part at fault, and save nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.support.fields import fields_defined
from tests.support.helpers import ApiClient, assert_error, new_member_id

OPTIONS = ["red", "green", "blue"]


@dataclass
class Shoppers:
    tag: str
    keys: dict[str, str]  # colour, size, joined, interests -> the field's key
    ids: dict[str, str]

    def only(self, condition: dict[str, Any]) -> dict[str, Any]:
        return {"all": [{"tags": {"all": [self.tag]}}, condition]}

    def attribute(self, field: str, **test: Any) -> dict[str, Any]:
        return {"attribute": {"key": self.keys[field], **test}}


@pytest_asyncio.fixture
async def shoppers(admin: ApiClient, shop: ApiClient) -> AsyncIterator[Shoppers]:
    specs = [
        {"field_type": "single_select", "options": OPTIONS},
        {"field_type": "number"},
        {"field_type": "date", "personal_data": True},
        {"field_type": "multi_select", "options": OPTIONS},
    ]
    async with fields_defined(admin, *specs) as made:
        keys = dict(zip(("colour", "size", "joined", "interests"), (f["key"] for f in made), strict=True))
        tag = f"segfields_{uuid.uuid4().hex[:8]}"
        values: dict[str, dict[str, Any]] = {
            "ann": {"colour": "red", "size": 38, "joined": "2024-03-01", "interests": ["red", "green"]},
            "bob": {"colour": "blue", "size": "42.5", "joined": "2024-12-31", "interests": ["blue"]},
            "cai": {"colour": "green", "size": 44, "joined": "2025-01-01"},
            "dan": {},
        }
        ids = {}
        for name, attributes in values.items():
            given = {keys[field]: value for field, value in attributes.items()}
            ids[name] = await new_member_id(shop, tags=[tag], attributes=given)
        yield Shoppers(tag, keys, ids)


CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("colour", {"eq": "red"}, {"ann"}),
    ("colour", {"in": ["green", "blue"]}, {"bob", "cai"}),
    ("size", {"gte": 42}, {"bob", "cai"}),
    ("size", {"gt": 38, "lt": 44}, {"bob"}),
    ("size", {"eq": 42.5}, {"bob"}),
    ("joined", {"gte": "2024-12-31"}, {"bob", "cai"}),
    ("joined", {"lt": "2025-01-01"}, {"ann", "bob"}),
    ("joined", {"gt": "2024-03-01", "lte": "2024-12-31"}, {"bob"}),
    ("joined", {"eq": "2025-01-01"}, {"cai"}),
    ("interests", {"eq": "green"}, {"ann"}),
    ("interests", {"in": ["blue", "green"]}, {"ann", "bob"}),
    ("interests", {"exists": False}, {"cai", "dan"}),
]


async def _preview(marketer: ApiClient, shoppers: Shoppers, definition: dict[str, Any]) -> set[str]:
    response = await marketer.post("/api/v1/segments/preview", json={"definition": definition, "sample": 100})
    assert response.status_code == 200, response.text
    preview = response.json()
    found = {name for name, member_id in shoppers.ids.items() if member_id in {m["id"] for m in preview["sample"]}}
    assert preview["count"] == len(found) == len(preview["sample"])
    return found


@pytest.mark.parametrize(("field", "test", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
async def test_a_segment_on_a_custom_field_counts_the_right_members(
    marketer: ApiClient, shoppers: Shoppers, field: str, test: dict[str, Any], expected: set[str]
) -> None:
    condition = shoppers.attribute(field, **test)
    assert await _preview(marketer, shoppers, shoppers.only(condition)) == expected
    assert await _preview(marketer, shoppers, shoppers.only({"not": condition})) == set(shoppers.ids) - expected


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("colour", {"gt": 3}, "gt", "bounds test number and date fields"),
    ("size", {"gte": "2024-01-01"}, "gte", "is a number field: its bounds are numbers"),
    ("joined", {"lt": 5}, "lt", "is a date field: its bounds are dates (YYYY-MM-DD)"),
    ("colour", {"eq": "purple"}, "eq", "the value must be one of its options: red, green, blue"),
    ("interests", {"in": ["red", "purple"]}, "in.1", "the value must be one of its options"),
    ("size", {"eq": "42"}, "eq", "the value must be a number"),
    ("joined", {"eq": "2025-02-30"}, "eq", "the value must be a date as YYYY-MM-DD"),
]


@pytest.mark.parametrize(("field", "test", "part", "message"), INVALID, ids=[f"{c[0]}-{c[1]}" for c in INVALID])
async def test_a_test_that_does_not_fit_the_field_is_refused_naming_it_and_saves_nothing(
    marketer: ApiClient, shoppers: Shoppers, field: str, test: dict[str, Any], part: str, message: str
) -> None:
    definition = shoppers.only(shoppers.attribute(field, **test))
    name = f"Misfit {uuid.uuid4().hex[:8]}"
    for response in (
        await marketer.post("/api/v1/segments/preview", json={"definition": definition}),
        await marketer.post("/api/v1/segments", json={"name": name, "definition": definition}),
    ):
        error = assert_error(response, 422, "invalid_segment")
        details = {d["field"]: d["message"] for d in error["details"]}
        assert list(details) == [f"body.definition.all.1.attribute.{part}"]
        assert message in details[f"body.definition.all.1.attribute.{part}"]
    assert name not in {s["name"] for s in (await marketer.get("/api/v1/segments")).json()}


async def test_a_field_that_does_not_exist_or_mixed_bounds_are_refused(marketer: ApiClient, shoppers: Shoppers) -> None:
    missing = shoppers.only({"not": {"attribute": {"key": "no_such_field", "exists": True}}})
    error = assert_error(await marketer.post("/api/v1/segments/preview", json={"definition": missing}), 422)
    assert error["details"] == [
        {
            "field": "body.definition.all.1.not.attribute.key",
            "message": "there is no member field 'no_such_field' (GET /api/v1/member-fields)",
        }
    ]
    mixed = shoppers.only(shoppers.attribute("size", gt=1, lt="2024-01-01"))
    error = assert_error(await marketer.post("/api/v1/segments/preview", json={"definition": mixed}), 422)
    assert error["details"][0]["field"] == "body.definition.all.1.attribute"
    assert "not a mix" in error["details"][0]["message"]
