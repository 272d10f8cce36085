"""Segments: every filter against known members, RFM quintile edges and named segments on a scratch
database, validation that names the field, and the API (round trip, preview, roles, 404/409/422)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Integer, column, func, insert, select, table, text, values
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import InvalidInput
from devstack.embedded import EmbeddedPostgres
from models import Member, Segment
from services import segments
from services.platform.api_keys import Role
from services.segments import rfm
from tests.conftest import KeyMaker
from tests.support.brand import scratch_database
from tests.support.helpers import ApiClient, assert_error

TODAY = date(2026, 6, 15)


def _at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


@dataclass
class Population:
    tag: str
    ids: dict[str, uuid.UUID]

    def names(self, found: set[uuid.UUID]) -> set[str]:
        return {name for name, member_id in self.ids.items() if member_id in found}


# Five members with known facts; every test limits itself to them through their own tag.
PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {
        "tier": "gold",
        "tags": ["vip", "newsletter"],
        "consent_email": True,
        "consent_sms": True,
        "lifetime_spend": Decimal("1200.00"),
        "order_count": 8,
        "last_purchase_at": _at("2026-06-12", "10:00"),  # 3 days before TODAY
        "created_at": _at("2025-01-10"),
        "birthday": date(1990, 5, 2),
        "attributes": {"city": "Shanghai", "visits": 12},
    },
    "bob": {
        "tier": "silver",
        "tags": ["vip"],
        "consent_email": True,
        "lifetime_spend": Decimal("100.00"),
        "order_count": 1,
        "last_purchase_at": _at("2026-05-16", "23:59"),  # 30 days
        "created_at": _at("2026-05-01"),
        "birthday": date(1985, 12, 1),
        "attributes": {"city": "Beijing", "visits": "many"},
    },
    "cai": {
        "consent_sms": True,
        "lifetime_spend": Decimal("99.99"),
        "order_count": 2,
        "last_purchase_at": _at("2026-05-17", "00:00"),  # 29 days
        "created_at": _at("2026-06-14", "23:00"),  # signed up 1 day ago
        "attributes": {"vip_level": 3.5},
    },
    "dan": {
        "tags": ["newsletter"],
        "created_at": _at("2026-06-15", "01:00"),  # today; never purchased
        "birthday": date(2000, 5, 20),
    },
    "eve": {
        "tier": "gold",
        "tags": ["vip", "churn_risk"],
        "consent_email": True,
        "lifetime_spend": Decimal("5000.00"),
        "order_count": 20,
        "last_purchase_at": _at("2025-06-15"),  # 365 days
        "created_at": _at("2024-06-15"),
        "birthday": date(1970, 6, 1),
        "attributes": {"city": "Shanghai", "visits": 3, "premium": True},
    },
}
EVERYONE = set(PEOPLE)


async def _insert(session: AsyncSession, people: dict[str, dict[str, Any]], *, tag: str | None) -> dict[str, uuid.UUID]:
    rows = {}
    for name, facts in people.items():
        fields = dict(facts)
        tags = [*([tag] if tag else []), *fields.pop("tags", [])]
        rows[name] = Member(external_id=f"seg-{name}-{uuid.uuid4().hex[:10]}", tags=tags, **fields)
    session.add_all(rows.values())
    await session.flush()
    return {name: row.id for name, row in rows.items()}


@pytest_asyncio.fixture(scope="module")
async def people(sessions: async_sessionmaker[AsyncSession]) -> Population:
    tag = f"segtest_{uuid.uuid4().hex[:10]}"
    async with sessions() as session:
        ids = await _insert(session, PEOPLE, tag=tag)
        await session.commit()
    return Population(tag, ids)


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


# --- RFM on a scratch database, where the whole scored population is known -------------------------------

# Ten buyers: recency and spend rise with the index; order counts tie (six members have one order).
BUYERS = {
    f"p{i}": {
        "last_purchase_at": datetime(2026, 6, 14, 12, tzinfo=UTC) - timedelta(days=100 - 10 * i),
        "order_count": [1, 1, 1, 1, 1, 1, 2, 2, 3, 5][i],
        "lifetime_spend": Decimal(100 * (i + 1)),
    }
    for i in range(10)
}
NEVER = {"n0": {}, "n1": {}}
# (recency, frequency, monetary, segment): quintiles by position; equal order counts share the lowest score.
EXPECTED_SCORES = {
    "p0": (1, 1, 1, "lost"),
    "p1": (1, 1, 1, "lost"),
    "p2": (2, 1, 2, "hibernating"),
    "p3": (2, 1, 2, "hibernating"),
    "p4": (3, 1, 3, "potential_loyalist"),
    "p5": (3, 1, 3, "potential_loyalist"),
    "p6": (4, 4, 4, "loyal"),
    "p7": (4, 4, 4, "loyal"),
    "p8": (5, 5, 5, "champions"),
    "p9": (5, 5, 5, "champions"),
}


@pytest_asyncio.fixture(scope="module")
async def scratch(postgres: EmbeddedPostgres) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], Population]]:
    db = await scratch_database(postgres, "rfm")
    factory = db.sessions
    try:
        async with factory() as session:
            ids = await _insert(session, {**BUYERS, **NEVER}, tag=None)
            await session.commit()
        yield factory, Population("", ids)
    finally:
        await db.engine.dispose()


async def test_rfm_scores_are_quintiles_over_buyers_with_ties_sharing_a_score(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    factory, population = scratch
    async with factory() as session:
        for name, (r, f, m, segment) in EXPECTED_SCORES.items():
            assert await segments.rfm_scores(session, population.ids[name]) == rfm.RfmScores(r, f, m, segment), name
        assert await segments.rfm_scores(session, population.ids["n0"]) is None
        assert await segments.rfm_scores(session, uuid.uuid4()) is None


async def _scratch_match(
    factory: async_sessionmaker[AsyncSession], population: Population, raw: dict[str, Any]
) -> set[str]:
    async with factory() as session:
        found = set((await session.execute(segments.member_query(segments.parse(raw), today=TODAY))).scalars())
    return population.names(found)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"rfm_segment": ["champions"]}, {"p8", "p9"}),
        ({"rfm_segment": ["lost", "hibernating"]}, {"p0", "p1", "p2", "p3"}),
        ({"rfm_segment": ["never_purchased"]}, {"n0", "n1"}),
        ({"rfm": {"frequency": {"gte": 4}}}, {"p6", "p7", "p8", "p9"}),
        ({"rfm": {"recency": {"eq": 3}, "monetary": {"lte": 3}}}, {"p4", "p5"}),
        ({"not": {"rfm": {"frequency": {"gte": 4}}}}, {"p0", "p1", "p2", "p3", "p4", "p5", "n0", "n1"}),
        ({"all": [{"rfm": {"recency": {"gte": 2}}}, {"order_count": {"eq": 1}}]}, {"p2", "p3", "p4", "p5"}),
    ],
)
async def test_rfm_filters(
    scratch: tuple[async_sessionmaker[AsyncSession], Population], raw: dict[str, Any], expected: set[str]
) -> None:
    factory, population = scratch
    assert await _scratch_match(factory, population, raw) == expected


@pytest.mark.parametrize("raw", [{"rfm_segment": ["champions", "loyal"]}, {"order_count": {"gte": 2}}])
async def test_preview_with_rfm_scores(
    scratch: tuple[async_sessionmaker[AsyncSession], Population], raw: dict[str, Any]
) -> None:
    """Both ways a preview runs (RFM in the filter: one statement; otherwise count, then sample + scores)."""
    factory, population = scratch
    definition = segments.parse(raw)
    async with factory() as session:
        full = await segments.preview(session, definition, today=TODAY)
        two = await segments.preview(session, definition, sample=2, today=TODAY)
        counted = await segments.preview(session, definition, sample=0, today=TODAY)
    expected = {population.ids[n] for n in ("p6", "p7", "p8", "p9")}
    assert full.count == two.count == counted.count == 4
    assert [m.id for m in full.sample] == sorted(expected, reverse=True)
    assert [m.id for m in two.sample] == [m.id for m in full.sample[:2]]
    assert counted.sample == []
    for member in full.sample:
        name = population.names({member.id}).pop()
        assert member.rfm == rfm.RfmScores(*EXPECTED_SCORES[name])
        assert member.order_count == BUYERS[name]["order_count"]


async def test_rfm_summary_groups_members_and_revenue(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    factory, _ = scratch
    async with factory() as session:
        summary = {g.segment: g for g in await segments.rfm_summary(session)}
    assert list(summary) == [*rfm.NAMED_SEGMENTS, rfm.NEVER_PURCHASED]
    revenue = {name: (g.members, g.revenue, g.revenue_share, g.member_share) for name, g in summary.items()}
    assert revenue == {
        "champions": (2, Decimal("1900.00"), Decimal("0.3455"), Decimal("0.1667")),
        "loyal": (2, Decimal("1500.00"), Decimal("0.2727"), Decimal("0.1667")),
        "potential_loyalist": (2, Decimal("1100.00"), Decimal("0.2000"), Decimal("0.1667")),
        "new": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "at_risk": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "cant_lose": (0, Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000")),
        "hibernating": (2, Decimal("700.00"), Decimal("0.1273"), Decimal("0.1667")),
        "lost": (2, Decimal("300.00"), Decimal("0.0545"), Decimal("0.1667")),
        "never_purchased": (2, Decimal("0.00"), Decimal("0.0000"), Decimal("0.1667")),
    }


async def test_member_query_feeds_one_insert_select(
    scratch: tuple[async_sessionmaker[AsyncSession], Population],
) -> None:
    """What a campaign snapshot does: one INSERT ... SELECT from the segment's query, RFM included."""
    factory, population = scratch
    query = segments.member_query(segments.parse({"rfm_segment": ["loyal", "champions"]}), today=TODAY)
    async with factory() as session:
        await session.execute(text("CREATE TEMP TABLE snapshot (member_id uuid PRIMARY KEY) ON COMMIT DROP"))
        target = table("snapshot", column("member_id"))
        inserted = await session.execute(insert(target).from_select(["member_id"], query))
        assert inserted.rowcount == 4
        rows = set((await session.execute(select(target.c.member_id))).scalars())
        await session.rollback()
    assert population.names(rows) == {"p6", "p7", "p8", "p9"}


# The documented mapping (docs/segments.md): for each recency score, F+M ranges and their segment.
SEGMENT_TABLE = {
    5: [(9, 10, "champions"), (7, 8, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "new")],
    4: [(9, 10, "champions"), (7, 8, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "new")],
    3: [(7, 10, "loyal"), (4, 6, "potential_loyalist"), (2, 3, "hibernating")],
    2: [(9, 10, "cant_lose"), (6, 8, "at_risk"), (2, 5, "hibernating")],
    1: [(9, 10, "cant_lose"), (6, 8, "at_risk"), (4, 5, "hibernating"), (2, 3, "lost")],
}


async def test_named_segment_mapping_covers_every_score_as_documented(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    grid = values(column("r", Integer), column("f", Integer), column("m", Integer), name="grid").data(
        [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    )
    async with sessions() as session:
        rows = (
            await session.execute(select(grid.c.r, grid.c.f, grid.c.m, rfm.segment_of(grid.c.r, grid.c.f, grid.c.m)))
        ).all()
    assert len(rows) == 125
    for r, f, m, segment in rows:
        expected = [name for low, high, name in SEGMENT_TABLE[r] if low <= f + m <= high]
        assert [segment] == expected, (r, f, m)


# --- API -------------------------------------------------------------------------------------------------


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Gold lapsing {uuid.uuid4().hex[:8]}",
        "description": "Gold members without a purchase for 60 days",
        "definition": {"all": [{"tier": ["gold"]}, {"days_since_last_purchase": {"gte": 60}}]},
    }
    body.update(overrides)
    return body


async def test_segment_round_trip(marketer: ApiClient, shop: ApiClient) -> None:
    body = _body()
    created = await marketer.post("/api/v1/segments", json=body)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["name"] == body["name"]
    assert segment["definition"] == body["definition"]
    assert segment["created_by"].startswith("test-marketer")
    path = f"/api/v1/segments/{segment['id']}"

    assert (await shop.get(path)).json() == segment  # any key reads
    listed = (await shop.get("/api/v1/segments")).json()
    assert segment["id"] in [s["id"] for s in listed]

    changed = _body(name=body["name"] + " v2", description=None, definition={"rfm_segment": ["at_risk"]})
    updated = await marketer.put(path, json=changed)
    assert updated.status_code == 200, updated.text
    assert (updated.json()["name"], updated.json()["description"]) == (changed["name"], None)
    assert (await marketer.get(path)).json()["definition"] == {"rfm_segment": ["at_risk"]}

    deleted = await marketer.delete(path)
    assert deleted.status_code == 204
    assert_error(await marketer.get(path), 404, "segment_not_found")
    assert_error(await marketer.delete(path), 404, "segment_not_found")
    assert_error(await marketer.put(path, json=_body()), 404, "segment_not_found")


async def test_create_is_idempotent_with_a_key(marketer: ApiClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    body = _body()
    headers = {"Idempotency-Key": f"seg-{uuid.uuid4().hex}"}
    first = await marketer.post("/api/v1/segments", json=body, headers=headers)
    again = await marketer.post("/api/v1/segments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await marketer.post("/api/v1/segments", json=_body(), headers=headers)
    assert other.status_code == 409


async def test_duplicate_name_is_409_and_unknown_tier_is_422(
    marketer: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = _body()
    assert (await marketer.post("/api/v1/segments", json=body)).status_code == 201
    error = assert_error(await marketer.post("/api/v1/segments", json=body), 409, "segment_exists")
    assert error["details"] == {"name": body["name"]}

    other = await marketer.post("/api/v1/segments", json=_body())
    taken = await marketer.put(f"/api/v1/segments/{other.json()['id']}", json=body)
    assert_error(taken, 409, "segment_exists")

    unknown = _body(definition={"any": [{"tier": ["platinum"]}]})
    error = assert_error(await marketer.post("/api/v1/segments", json=unknown), 422, "invalid_segment")
    assert error["details"][0]["field"] == "body.definition.any.0.tier.0"
    async with sessions() as session:
        stored = (await session.execute(select(Segment).where(Segment.name == unknown["name"]))).scalar_one_or_none()
    assert stored is None


async def test_invalid_bodies_are_422_naming_the_field(marketer: ApiClient) -> None:
    bad = _body(definition={"all": [{"order_count": {"gte": -1}}]})
    error = assert_error(await marketer.post("/api/v1/segments", json=bad), 422, "invalid_segment")
    assert error["details"] == [
        {"field": "body.definition.all.0.order_count.gte", "message": "Input should be greater than or equal to 0"}
    ]
    error = assert_error(await marketer.post("/api/v1/segments", json=_body(name="")), 422, "validation_error")
    assert error["details"][0]["field"] == "body.name"
    error = assert_error(await marketer.post("/api/v1/segments", json=_body(definition="gold")), 422)
    assert error["details"][0]["field"] == "body.definition"
    assert_error(await marketer.get("/api/v1/segments/not-a-uuid"), 422, "validation_error")


async def test_preview_api(marketer: ApiClient, people: Population) -> None:
    definition = {"all": [{"tags": {"all": [people.tag]}}, {"has_purchased": True}]}
    response = await marketer.post("/api/v1/segments/preview", json={"definition": definition})
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["count"] == 4
    assert [m["id"] for m in out["sample"]] == [
        str(i) for i in sorted((people.ids[n] for n in ("ann", "bob", "cai", "eve")), reverse=True)
    ]
    first = out["sample"][0]
    assert set(first) == {"id", "external_id", "tier", "lifetime_spend", "order_count", "last_purchase_at", "rfm"}
    assert set(first["rfm"]) == {"recency", "frequency", "monetary", "segment"}
    assert all(1 <= first["rfm"][k] <= 5 for k in ("recency", "frequency", "monetary"))

    saved = (await marketer.post("/api/v1/segments", json=_body(definition=definition))).json()
    by_id = await marketer.post("/api/v1/segments/preview", json={"segment_id": saved["id"], "sample": 1})
    assert by_id.status_code == 200, by_id.text
    assert (by_id.json()["count"], len(by_id.json()["sample"])) == (4, 1)

    assert_error(await marketer.post("/api/v1/segments/preview", json={}), 422, "validation_error")
    both = {"definition": definition, "segment_id": saved["id"]}
    assert_error(await marketer.post("/api/v1/segments/preview", json=both), 422, "validation_error")
    missing = {"segment_id": str(uuid.uuid4())}
    assert_error(await marketer.post("/api/v1/segments/preview", json=missing), 404, "segment_not_found")
    bad = {"definition": {"all": [{"tier": "gold"}]}}
    error = assert_error(await marketer.post("/api/v1/segments/preview", json=bad), 422, "invalid_segment")
    assert error["details"][0]["field"] == "body.definition.all.0.tier"
    too_many = {"definition": definition, "sample": 101}
    assert_error(await marketer.post("/api/v1/segments/preview", json=too_many), 422, "validation_error")


async def test_rfm_summary_api(shop: ApiClient, people: Population, sessions: async_sessionmaker[AsyncSession]) -> None:
    response = await shop.get("/api/v1/segments/rfm")
    assert response.status_code == 200, response.text
    groups = response.json()
    async with sessions() as session:
        members, buyers, spend = (
            await session.execute(
                select(func.count(), func.count(Member.last_purchase_at), func.sum(Member.lifetime_spend))
            )
        ).one()
    assert [g["segment"] for g in groups] == [*rfm.NAMED_SEGMENTS, rfm.NEVER_PURCHASED]
    assert sum(g["members"] for g in groups) == members
    assert groups[-1]["members"] == members - buyers
    assert sum(Decimal(g["revenue"]) for g in groups) == spend
    assert sum(Decimal(g["member_share"]) for g in groups) == pytest.approx(Decimal(1), abs=Decimal("0.001"))


async def test_roles(shop: ApiClient, marketer: ApiClient, make_key: KeyMaker, http: Any) -> None:
    assert_error(await shop.post("/api/v1/segments", json=_body()), 403, "insufficient_role")
    preview = {"definition": {"all": []}, "sample": 0}
    assert_error(await shop.post("/api/v1/segments/preview", json=preview), 403, "insufficient_role")
    saved = (await marketer.post("/api/v1/segments", json=_body())).json()
    path = f"/api/v1/segments/{saved['id']}"
    assert_error(await shop.put(path, json=_body()), 403, "insufficient_role")
    assert_error(await shop.delete(path), 403, "insufficient_role")
    assert (await shop.get(path)).status_code == 200
    admin = ApiClient(http, await make_key(Role.ADMIN))
    assert (await admin.post("/api/v1/segments/preview", json=preview)).status_code == 200
    assert_error(await http.get("/api/v1/segments"), 401)


async def test_delete_refused_while_referenced(marketer: ApiClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    """A campaign's RESTRICT foreign key keeps its segment; a scratch table plays the referencing campaign."""
    saved = (await marketer.post("/api/v1/segments", json=_body())).json()
    table = f"segment_ref_{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        await session.execute(
            text(f"CREATE TABLE {table} (segment_id uuid REFERENCES segments (id) ON DELETE RESTRICT)")
        )
        await session.execute(text(f"INSERT INTO {table} VALUES (:id)"), {"id": saved["id"]})
        await session.commit()
    try:
        path = f"/api/v1/segments/{saved['id']}"
        assert_error(await marketer.delete(path), 409, "segment_in_use")
        assert (await marketer.get(path)).status_code == 200
    finally:
        async with sessions() as session:
            await session.execute(text(f"DROP TABLE {table}"))
            await session.commit()


async def test_hostile_definitions_are_4xx(marketer: ApiClient) -> None:
    deep = '{"definition": ' + '{"not": ' * 3000 + '{"all": []}' + "}" * 3000 + "}"
    response = await marketer.post(
        "/api/v1/segments/preview", content=deep, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    nul = {"definition": {"attribute": {"key": "note", "eq": "a\u0000b"}}}
    assert_error(await marketer.post("/api/v1/segments/preview", json=nul), 422)
    with pytest.raises(InvalidInput):  # callers other than the API get the same answer
        segments.parse(nul["definition"])
    for definition in (
        {"attribute": {"key": "n", "gte": "1e999999"}},
        {"lifetime_spend": {"gte": "NaN"}},
        {"tags": {"any": ["x" * 65]}},
        {"tier": ["gold"] * 21},
    ):
        error = assert_error(
            await marketer.post("/api/v1/segments/preview", json={"definition": definition}), 422, "invalid_segment"
        )
        assert error["details"][0]["field"].startswith("body.definition."), error
