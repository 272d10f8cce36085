"""The segments API: round trip, idempotent create, preview, the RFM summary, roles and 404/409/422."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import InvalidInput
from models import Member, Segment
from services import segments
from services.platform.api_keys import Role
from services.segments import rfm
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.segments import Population


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
