"""Rewards and redemptions through the API: spend now or hold for approval, stock, inactive rewards, races."""

from __future__ import annotations

import asyncio
import uuid

from tests.support.helpers import ApiClient, assert_error
from tests.support.helpers import new_member_id as _member
from tests.support.loyalty import create_reward as _reward
from tests.support.loyalty import points_of as _points


async def _funded_member(shop: ApiClient, admin: ApiClient, points: int) -> str:
    member_id = await _member(shop)
    response = await admin.post(
        f"/api/v1/members/{member_id}/points/adjustments",
        json={"points": points, "reason": "opening balance for the test"},
    )
    assert response.status_code == 201, response.text
    return member_id


async def test_redemption_at_or_below_threshold_spends_now_and_takes_stock(shop: ApiClient, admin: ApiClient) -> None:
    member_id = await _funded_member(shop, admin, 6000)
    reward_id = await _reward(admin, cost=5000, stock=3)
    response = await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id})
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "completed"
    assert (await _points(shop, member_id))["posted"] == 1000
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 2
    error = assert_error(
        await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id}),
        409,
        "insufficient_points",
    )
    assert error["details"] == {"requested": 5000, "available": 1000}
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 2  # rolled back with the spend


async def test_redemption_above_threshold_holds_points_pending_approval(shop: ApiClient, admin: ApiClient) -> None:
    member_id = await _funded_member(shop, admin, 8000)
    reward_id = await _reward(admin, cost=5001, stock=1)
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["needs_approval"] is True
    response = await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id})
    assert response.status_code == 202, response.text
    redemption = response.json()
    assert redemption["status"] == "pending_approval"
    assert redemption["hold_id"]
    points = await _points(shop, member_id)
    assert (points["posted"], points["held"], points["available"]) == (8000, 5001, 2999)
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 1  # taken on approval
    assert (await shop.get(f"/api/v1/redemptions/{redemption['id']}")).json() == redemption
    low = await _reward(admin, cost=6000, stock=None, approval_threshold=10000)
    response = await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": low})
    assert_error(response, 409, "insufficient_points")  # per-reward threshold: spent now, and 2999 < 6000


async def test_inactive_and_out_of_stock_rewards(shop: ApiClient, admin: ApiClient) -> None:
    member_id = await _funded_member(shop, admin, 1000)
    reward_id = await _reward(admin, cost=10, stock=0)
    assert_error(
        await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id}),
        409,
        "out_of_stock",
    )
    assert (await shop.patch(f"/api/v1/rewards/{reward_id}", json={"stock": 5, "active": False})).status_code == 403
    assert (await admin.patch(f"/api/v1/rewards/{reward_id}", json={"stock": 5, "active": False})).status_code == 200
    assert_error(
        await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id}),
        409,
        "reward_inactive",
    )
    assert_error(
        await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": str(uuid.uuid4())}),
        404,
        "reward_not_found",
    )
    assert (await _points(shop, member_id))["posted"] == 1000


async def test_fifty_concurrent_redemptions_of_five_in_stock(shop: ApiClient, admin: ApiClient) -> None:
    reward_id = await _reward(admin, cost=100, stock=5)
    member_ids = [await _funded_member(shop, admin, 100) for _ in range(10)]
    responses = await asyncio.gather(
        *(
            shop.post("/api/v1/redemptions", json={"member_id": member_ids[i % 10], "reward_id": reward_id})
            for i in range(50)
        )
    )
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 5
    assert all(
        r.json()["error"]["code"] in {"out_of_stock", "insufficient_points"} for r in responses if r.status_code != 201
    )
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 0
    balances = [(await _points(shop, m))["posted"] for m in member_ids]
    assert sum(100 - posted for posted in balances) == 500
