"""Segment filters: every filter against known members, preview, and validation that names the field."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import InvalidInput
from services import segments
from services.segments import rfm
from tests.support.segments import PEOPLE, TODAY, Population

EVERYONE = set(PEOPLE)


async def _match(sessions: async_sessionmaker[AsyncSession], population: Population, raw: dict[str, Any]) -> set[str]:
    definition = segments.parse({"all": [{"tags": {"all": [population.tag]}}, raw]})
    async with sessions() as session:
        found = set((await session.execute(segments.member_query(definition, today=TODAY))).scalars())
    return population.names(found)


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"tier": ["gold"]}, {"ann", "eve"}),
    ({"tier": ["silver", "member"]}, {"bob", "cai", "dan"}),
    ({"tags": {"any": ["vip"]}}, {"ann", "bob", "eve"}),
    ({"tags": {"all": ["vip", "newsletter"]}}, {"ann"}),
    ({"tags": {"none": ["vip"]}}, {"cai", "dan"}),
    ({"consent": {"email": True}}, {"ann", "bob", "eve"}),
    ({"consent": {"email": False, "sms": True}}, {"cai"}),
    ({"lifetime_spend": {"gte": "100"}}, {"ann", "bob", "eve"}),
    ({"lifetime_spend": {"gt": 100}}, {"ann", "eve"}),
    ({"lifetime_spend": {"lt": "100.00"}}, {"cai", "dan"}),
    ({"lifetime_spend": {"eq": "99.99"}}, {"cai"}),
    ({"lifetime_spend": {"gte": 100, "lte": 1200}}, {"ann", "bob"}),
    ({"order_count": {"eq": 0}}, {"dan"}),
    ({"order_count": {"gte": 2}}, {"ann", "cai", "eve"}),
    ({"order_count": {"lt": 2}}, {"bob", "dan"}),
    ({"has_purchased": True}, {"ann", "bob", "cai", "eve"}),
    ({"has_purchased": False}, {"dan"}),
    ({"days_since_last_purchase": {"gte": 30}}, {"bob", "eve"}),
    ({"days_since_last_purchase": {"lte": 29}}, {"ann", "cai"}),
    ({"days_since_last_purchase": {"eq": 30}}, {"bob"}),
    ({"days_since_last_purchase": {"gt": 29, "lt": 365}}, {"bob"}),
    ({"days_since_last_purchase": {"gte": 30, "include_never_purchased": True}}, {"bob", "dan", "eve"}),
    ({"not": {"days_since_last_purchase": {"lte": 29}}}, {"bob", "dan", "eve"}),
    ({"signed_up": {"on_or_after": "2026-05-01"}}, {"bob", "cai", "dan"}),
    ({"signed_up": {"before": "2026-05-01"}}, {"ann", "eve"}),
    ({"signed_up": {"on_or_after": "2026-06-14", "before": "2026-06-15"}}, {"cai"}),
    ({"days_since_signup": {"lte": 1}}, {"cai", "dan"}),
    ({"days_since_signup": {"eq": 0}}, {"dan"}),
    ({"days_since_signup": {"gte": 365}}, {"ann", "eve"}),
    ({"birthday_month": [5]}, {"ann", "dan"}),
    ({"birthday_month": [12, 6]}, {"bob", "eve"}),
    ({"not": {"birthday_month": [5]}}, {"bob", "cai", "eve"}),
    ({"attribute": {"key": "city", "eq": "Shanghai"}}, {"ann", "eve"}),
    ({"attribute": {"key": "city", "in": ["Beijing", "Shenzhen"]}}, {"bob"}),
    ({"attribute": {"key": "city", "exists": False}}, {"cai", "dan"}),
    ({"attribute": {"key": "visits", "gte": 10}}, {"ann"}),  # bob's "many" is not a number: no match, no error
    ({"attribute": {"key": "visits", "lt": 10}}, {"eve"}),
    ({"attribute": {"key": "visits", "eq": 12}}, {"ann"}),
    ({"attribute": {"key": "vip_level", "gt": "3"}}, {"cai"}),
    ({"attribute": {"key": "premium", "eq": True}}, {"eve"}),
    ({"any": [{"tier": ["gold"]}, {"consent": {"sms": True}}]}, {"ann", "cai", "eve"}),
    ({"all": [{"tags": {"any": ["vip"]}}, {"not": {"tier": ["gold"]}}]}, {"bob"}),
    ({"all": []}, EVERYONE),
]


@pytest.mark.parametrize(("raw", "expected"), FILTER_CASES, ids=[str(c[0]) for c in FILTER_CASES])
async def test_filter_matches_known_members(
    sessions: async_sessionmaker[AsyncSession], people: Population, raw: dict[str, Any], expected: set[str]
) -> None:
    assert await _match(sessions, people, raw) == expected
    # `not` is the exact complement: no condition lets a NULL (no purchase, no birthday, no key) slip through.
    assert await _match(sessions, people, {"not": raw}) == EVERYONE - expected


async def test_stored_definition_parses_back_to_the_same_filter() -> None:
    for raw, _ in FILTER_CASES:
        parsed = segments.parse(raw)
        assert segments.parse(parsed.to_json()) == parsed


async def test_preview_counts_and_samples_newest_first(
    sessions: async_sessionmaker[AsyncSession], people: Population
) -> None:
    definition = segments.parse({"tags": {"all": [people.tag]}})
    async with sessions() as session:
        full = await segments.preview(session, definition, today=TODAY)
        two = await segments.preview(session, definition, sample=2, today=TODAY)
        none = await segments.preview(session, definition, sample=0, today=TODAY)
    assert full.count == two.count == none.count == 5
    assert [m.id for m in full.sample] == sorted(people.ids.values(), reverse=True)
    assert [m.id for m in two.sample] == [m.id for m in full.sample[:2]]
    assert none.sample == []
    by_name = {name: m for m in full.sample for name, i in people.ids.items() if i == m.id}
    assert by_name["dan"].rfm is None
    ann = by_name["ann"]
    assert (ann.lifetime_spend, ann.order_count, ann.tier) == (Decimal("1200.00"), 8, "gold")
    assert ann.rfm is not None
    assert ann.rfm == await _scores(sessions, people.ids["ann"])


async def _scores(sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID) -> rfm.RfmScores | None:
    async with sessions() as session:
        return await segments.rfm_scores(session, member_id)


# --- validation ------------------------------------------------------------------------------------------


INVALID_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "body.definition"),
    ({"tier": None}, "body.definition"),
    ({"all": [{"not": None}]}, "body.definition.all.0"),
    ({"tier": ["gold"], "order_count": {"gte": 1}}, "body.definition"),
    ({"all": [{"tier": []}]}, "body.definition.all.0.tier"),
    ({"any": [{"tier": ["Gold!"]}]}, "body.definition.any.0.tier.0"),
    ({"not": {"colour": "red"}}, "body.definition.not.colour"),
    ({"tags": {"any": ["vip"], "none": ["x"]}}, "body.definition.tags"),
    ({"consent": {}}, "body.definition.consent"),
    ({"lifetime_spend": {"gte": "10", "lt": "5"}}, "body.definition.lifetime_spend"),
    ({"lifetime_spend": {"gte": "-1"}}, "body.definition.lifetime_spend.gte"),
    ({"lifetime_spend": {"eq": "1.234"}}, "body.definition.lifetime_spend.eq"),
    ({"order_count": {}}, "body.definition.order_count"),
    ({"order_count": {"eq": 1, "gt": 0}}, "body.definition.order_count"),
    ({"days_since_last_purchase": {"gte": "soon"}}, "body.definition.days_since_last_purchase.gte"),
    ({"signed_up": {"on_or_after": "2026-02-30"}}, "body.definition.signed_up.on_or_after"),
    ({"signed_up": {"on_or_after": "2026-03-01", "before": "2026-03-01"}}, "body.definition.signed_up"),
    ({"birthday_month": [13]}, "body.definition.birthday_month.0"),
    ({"attribute": {"key": "bad key", "eq": 1}}, "body.definition.attribute.key"),
    ({"attribute": {"key": "city"}}, "body.definition.attribute"),
    ({"attribute": {"key": "city", "eq": "x", "exists": True}}, "body.definition.attribute"),
    ({"attribute": {"key": "n", "gt": 5, "lt": 1}}, "body.definition.attribute"),
    ({"attribute": {"key": "n", "eq": {"nested": 1}}}, "body.definition.attribute.eq"),
    ({"rfm": {"recency": {"gte": 6}}}, "body.definition.rfm.recency.gte"),
    ({"rfm": {}}, "body.definition.rfm"),
    ({"rfm_segment": ["vip"]}, "body.definition.rfm_segment.0"),
]


@pytest.mark.parametrize(("raw", "field"), INVALID_CASES, ids=[str(c[0]) for c in INVALID_CASES])
def test_invalid_filter_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        segments.parse(raw)
    assert caught.value.code == "invalid_segment"
    assert field in [d["field"] for d in caught.value.details], caught.value.details


def test_nesting_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"tier": ["gold"]}
    for _ in range(segments.MAX_DEPTH):
        deep = {"all": [deep]}
    segments.parse(deep)
    hostile: dict[str, Any] = {"all": []}
    for _ in range(5_000):
        hostile = {"not": hostile}
    for raw in ({"any": [deep]}, hostile):
        with pytest.raises(InvalidInput) as caught:
            segments.parse(raw)
        assert caught.value.details == [
            {"field": "body.definition", "message": f"conditions nest at most {segments.MAX_DEPTH} levels deep"}
        ]
    wide = {"all": [{"any": [{"tier": ["gold"]}] * 50}] * 5}
    with pytest.raises(InvalidInput) as caught:
        segments.parse(wide)
    assert caught.value.details[0]["message"] == f"a filter has at most {segments.MAX_CONDITIONS} conditions"
