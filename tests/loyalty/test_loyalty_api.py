"""Points through the API: tiers, refunds, adjustments, the statement, the ledger check, a burst of one order, roles."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, MemberEvent
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error, order_body, walk_pages
from tests.support.helpers import new_member_id as _member
from tests.support.loyalty import create_reward as _reward
from tests.support.loyalty import points_of as _points


async def _order(shop: ApiClient, member_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    response = await shop.post("/api/v1/orders", json=order_body(member_id, amount=amount, **overrides))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def _events(sessions: async_sessionmaker[AsyncSession], member_id: str, kind: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            select(MemberEvent.properties).where(
                MemberEvent.member_id == uuid.UUID(member_id), MemberEvent.type == kind
            )
        )
        return [dict(r) for r in rows.scalars().all()]


# --- tiers -----------------------------------------------------------------------------------------------


async def test_tier_upgrade_needs_spend_strictly_above_the_threshold(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    at_threshold = await _member(shop)
    await _order(shop, at_threshold, "1000.00")
    assert (await shop.get(f"/api/v1/members/{at_threshold}")).json()["tier"] == "member"
    assert await _events(sessions, at_threshold, "tier_changed") == []

    above = await _member(shop)
    await _order(shop, above, "1000.01")
    assert (await shop.get(f"/api/v1/members/{above}")).json()["tier"] == "silver"
    [change] = await _events(sessions, above, "tier_changed")
    assert (change["from"], change["to"], change["direction"]) == ("member", "silver", "up")


async def test_tier_multiplier_applies_from_the_next_order(shop: ApiClient) -> None:
    member_id = await _member(shop)
    first = await _order(shop, member_id, "5000.50")  # earned at member x1.0, then gold
    assert first["points_earned"] == 5000
    assert (await shop.get(f"/api/v1/members/{member_id}")).json()["tier"] == "gold"
    second = await _order(shop, member_id, "100.00")
    assert second["points_earned"] == 150  # gold x1.5


async def test_tier_ladder_is_validated_and_replaced_by_admins(admin: ApiClient, shop: ApiClient) -> None:
    ladder = (await admin.get("/api/v1/tiers")).json()["tiers"]
    assert [(t["code"], t["min_spend_exclusive"], t["earn_multiplier"]) for t in ladder] == [
        ("member", "0.00", "1.00"),
        ("silver", "1000.00", "1.20"),
        ("gold", "5000.00", "1.50"),
    ]
    bad = {
        "tiers": [
            {"code": "member", "name": "Member", "min_spend_exclusive": "0", "earn_multiplier": "1"},
            {"code": "silver", "name": "Silver", "min_spend_exclusive": "1000", "earn_multiplier": "1.2"},
            {"code": "gold", "name": "Gold", "min_spend_exclusive": "1000", "earn_multiplier": "1.5"},
        ]
    }
    error = assert_error(await admin.put("/api/v1/tiers", json=bad), 422, "validation_error")
    assert error["details"][0]["field"] == "body.tiers.2.min_spend_exclusive"
    no_base = {"tiers": [{**bad["tiers"][1]}]}
    assert_error(await admin.put("/api/v1/tiers", json=no_base), 422)
    dropping_gold = {"tiers": bad["tiers"][:2]}
    response = await admin.put("/api/v1/tiers", json=dropping_gold)
    if response.status_code == 409:  # other tests left gold members: the ladder may not orphan them
        assert response.json()["error"]["code"] == "tier_in_use"
    assert_error(await shop.put("/api/v1/tiers", json=dropping_gold), 403, "insufficient_role")
    same = {
        "tiers": [
            {
                "code": t["code"],
                "name": t["name"],
                "min_spend_exclusive": t["min_spend_exclusive"],
                "earn_multiplier": t["earn_multiplier"],
                "benefits": t["benefits"],
            }
            for t in ladder
        ]
    }
    assert (await admin.put("/api/v1/tiers", json=same)).json()["tiers"] == ladder


# --- refunds ---------------------------------------------------------------------------------------------


async def test_partial_refunds_claw_back_proportionally_and_never_more_than_earned(shop: ApiClient) -> None:
    member_id = await _member(shop)
    order = await _order(shop, member_id, "300.00")
    url = f"/api/v1/orders/{order['id']}/refunds"
    first = (await shop.post(url, json={"external_id": "r1", "amount": "100.00"})).json()
    assert first["refund"]["points_clawed_back"] == 100
    assert first["order"]["status"] == "partially_refunded"
    second = (await shop.post(url, json={"external_id": "r2", "amount": "200.00"})).json()
    assert second["refund"]["points_clawed_back"] == 200
    assert second["order"]["status"] == "refunded"
    assert second["order"]["points_clawed_back"] == 300
    assert (await _points(shop, member_id))["posted"] == 0
    assert_error(await shop.post(url, json={"external_id": "r3", "amount": "0.01"}), 422, "refund_exceeds_order")
    view = (await shop.get(f"/api/v1/members/{member_id}")).json()
    assert view["lifetime_spend"] == "0.00"


async def test_refund_after_spending_records_debt_that_the_next_order_repays(shop: ApiClient, admin: ApiClient) -> None:
    member_id = await _member(shop)
    order = await _order(shop, member_id, "100.00")
    async with asyncio.timeout(10):
        adjusted = await shop.post(
            f"/api/v1/members/{member_id}/points/adjustments", json={"points": -80, "reason": "test spend"}
        )
    assert adjusted.status_code == 403  # only admins adjust; spend through a reward instead
    reward = await _reward(admin, cost=80, stock=None)
    assert (
        await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward})
    ).status_code == 201
    refund = (
        await shop.post(
            f"/api/v1/orders/{order['id']}/refunds",
            json={"external_id": "full", "amount": "100.00", "reason": "damaged"},
        )
    ).json()
    assert (refund["refund"]["points_clawed_back"], refund["refund"]["points_shortfall"]) == (20, 80)
    assert await _points(shop, member_id) | {"expiring": []} == {
        "posted": 0,
        "held": 0,
        "available": 0,
        "debt": 80,
        "expiring": [],
    }
    await _order(shop, member_id, "50.00")
    assert (await _points(shop, member_id))["debt"] == 30
    await _order(shop, member_id, "50.00")
    points = await _points(shop, member_id)
    assert (points["posted"], points["debt"]) == (20, 0)


async def test_refund_retries_are_idempotent_by_refund_id(shop: ApiClient) -> None:
    member_id = await _member(shop)
    order = await _order(shop, member_id, "60.00")
    url = f"/api/v1/orders/{order['id']}/refunds"
    first = await shop.post(url, json={"external_id": "RF-1", "amount": "30.00"})
    again = await shop.post(url, json={"external_id": "RF-1", "amount": "30.00"})
    assert first.status_code == again.status_code == 201
    assert again.json()["refund"]["id"] == first.json()["refund"]["id"]
    assert (await _points(shop, member_id))["posted"] == 30
    assert_error(await shop.post(url, json={"external_id": "RF-1", "amount": "10.00"}), 409, "refund_conflict")
    assert_error(
        await shop.post(f"/api/v1/orders/{uuid.uuid4()}/refunds", json={"external_id": "x", "amount": "1.00"}),
        404,
        "order_not_found",
    )
    assert_error(await shop.post(url, json={"external_id": "RF-2", "amount": "-1.00"}), 422)


# --- adjustments, statement, checks ----------------------------------------------------------------------


async def test_adjustments_need_admin_and_a_reason_and_are_audited(
    shop: ApiClient, admin: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    member_id = await _member(shop)
    url = f"/api/v1/members/{member_id}/points/adjustments"
    assert_error(await admin.post(url, json={"points": 10}), 422)
    assert_error(await admin.post(url, json={"points": 0, "reason": "nothing"}), 422)
    assert_error(await shop.post(url, json={"points": 10, "reason": "goodwill"}), 403)
    headers = {"Idempotency-Key": f"adj-{uuid.uuid4()}"}
    first = await admin.post(url, json={"points": 25, "reason": "goodwill after late delivery"}, headers=headers)
    again = await admin.post(url, json={"points": 25, "reason": "goodwill after late delivery"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["balance"]["posted"] == 25
    assert again.json() == first.json()
    assert_error(await admin.post(url, json={"points": -26, "reason": "too much"}), 409, "insufficient_points")
    assert (await admin.post(url, json={"points": -5, "reason": "correction"})).json()["balance"]["posted"] == 20
    async with sessions() as session:
        audits = (await session.execute(select(AuditEntry).where(AuditEntry.target_id == member_id))).scalars().all()
    assert sorted(a.details["points"] for a in audits) == [-5, 25]
    assert {a.action for a in audits} == {"points.adjust"}


async def test_ledger_statement_pages_newest_first(shop: ApiClient) -> None:
    member_id = await _member(shop)
    for amount in ("10.00", "20.00", "30.00"):
        await _order(shop, member_id, amount)
    page = (await shop.get(f"/api/v1/members/{member_id}/ledger", params={"limit": 2})).json()
    assert [line["amount"] for line in page["items"]] == [30, 20]
    assert [line["balance_after"] for line in page["items"]] == [60, 30]
    rest = (
        await shop.get(f"/api/v1/members/{member_id}/ledger", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert [line["amount"] for line in rest["items"]] == [10]
    assert rest["next_cursor"] is None
    assert all(line["kind"] == "earn" and line["reference_type"] == "order" for line in rest["items"])
    walked = await walk_pages(shop, f"/api/v1/members/{member_id}/ledger", limit=1)
    assert [line["amount"] for line in walked] == [30, 20, 10]
    assert len({line["entry_id"] for line in walked}) == 3
    assert_error(await shop.get(f"/api/v1/members/{member_id}/ledger", params={"cursor": "zz"}), 400, "invalid_cursor")
    points = await _points(shop, member_id)
    assert sum(e["points"] for e in points["expiring"]) == 60


async def test_ops_ledger_check(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    ops = ApiClient(http, await make_key(Role.OPS))
    shop = ApiClient(http, await make_key(Role.INTEGRATION))
    result = (await ops.get("/api/v1/ops/ledger/check")).json()
    assert result["ok"] is True
    assert result["posted_sum"] == 0
    assert result["mismatched_accounts"] == []
    assert_error(await shop.get("/api/v1/ops/ledger/check"), 403, "insufficient_role")


# --- concurrency and roles -------------------------------------------------------------------------------


async def test_same_order_posted_ten_times_at_once_with_one_key_credits_once(shop: ApiClient) -> None:
    member_id = await _member(shop)
    body = order_body(member_id, amount="77.00")
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses = await asyncio.gather(*(shop.post("/api/v1/orders", json=body, headers=headers) for _ in range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await _points(shop, member_id))["posted"] == 77


@pytest.mark.parametrize("role", [Role.MARKETER, Role.APPROVER])
async def test_roles_that_cannot_ingest_or_redeem(http: httpx.AsyncClient, make_key: KeyMaker, role: Role) -> None:
    client = ApiClient(http, await make_key(role))
    now = datetime.now(UTC).isoformat()
    assert_error(
        await client.post(
            "/api/v1/events", json={"member_id": str(uuid.uuid4()), "type": "shared", "occurred_at": now}
        ),
        403,
    )
    assert_error(
        await client.post("/api/v1/redemptions", json={"member_id": str(uuid.uuid4()), "reward_id": str(uuid.uuid4())}),
        403,
    )


async def test_concurrent_partial_refunds_beyond_the_order_total_refund_only_what_was_paid(shop: ApiClient) -> None:
    """Three refunds of 150 at once on an order of 300: the order is locked while each is checked, so exactly
    two go through, the third is refused as exceeding the order, and exactly the 300 points earned come back."""
    member_id = await _member(shop)
    order = await _order(shop, member_id, "300.00")
    url = f"/api/v1/orders/{order['id']}/refunds"
    responses = await asyncio.gather(
        *(shop.post(url, json={"external_id": f"race-{n}", "amount": "150.00"}) for n in range(3))
    )
    outcomes = Counter(
        str(r.status_code) if r.status_code == 201 else f"{r.status_code} {r.json()['error']['code']}"
        for r in responses
    )
    assert outcomes == {"201": 2, "422 refund_exceeds_order": 1}, [r.text for r in responses]
    accepted = [r.json()["refund"]["points_clawed_back"] for r in responses if r.status_code == 201]
    assert accepted == [150, 150]
    stored = (await shop.get(f"/api/v1/orders/{order['id']}")).json()
    assert (stored["status"], stored["points_clawed_back"]) == ("refunded", 300)
    assert (await _points(shop, member_id))["posted"] == 0
    assert (await shop.get(f"/api/v1/members/{member_id}")).json()["lifetime_spend"] == "0.00"
