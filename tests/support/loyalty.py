"""Helpers for the loyalty API tests: a member's points as the API shows them, and a reward to redeem."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.helpers import ApiClient


async def points_of(shop: ApiClient, member_id: str) -> dict[str, Any]:
    points: dict[str, Any] = (await shop.get(f"/api/v1/members/{member_id}/points")).json()
    return points


async def create_reward(client: ApiClient, *, cost: int, stock: int | None, **extra: Any) -> str:
    response = await client.post(
        "/api/v1/rewards", json={"name": f"Reward {uuid.uuid4().hex[:6]}", "points_cost": cost, "stock": stock, **extra}
    )
    assert response.status_code == 201, response.text
    reward_id: str = response.json()["id"]
    return reward_id
