"""Helpers for the points-at-checkout tests: the programme's rate set for one test (and put back after), a
member with a known balance, and their points as the API shows them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import CheckoutSettings
from services.loyalty import checkout_rate
from tests.support.helpers import ApiClient, new_member_id

# The figures the tests (and docs/loyalty.md's example) count with: 100 points = 1.00 CNY, at most 50% of an
# order, at least 500 points, 30 minutes.
RATE: dict[str, Any] = {
    "enabled": True,
    "currency": "CNY",
    "points_per_unit": 100,
    "unit_value": Decimal("1.00"),
    "max_percent": 50,
    "min_points": 500,
    "hold_minutes": 30,
}


@asynccontextmanager
async def programme_rate(sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> AsyncIterator[None]:
    """The rate RATE (with `overrides`) for the block; the one before it afterwards, whatever happened."""
    async with sessions() as session:
        before = checkout_rate.snapshot(await checkout_rate.current(session))
        await session.execute(update(CheckoutSettings).where(CheckoutSettings.id == 1).values(**(RATE | overrides)))
        await session.commit()
    try:
        yield
    finally:
        async with sessions() as session:
            await session.execute(update(CheckoutSettings).where(CheckoutSettings.id == 1).values(**before))
            await session.commit()


async def funded_member(shop: ApiClient, admin: ApiClient, points: int) -> str:
    member_id = await new_member_id(shop)
    if points:
        response = await admin.post(
            f"/api/v1/members/{member_id}/points/adjustments", json={"points": points, "reason": "opening balance"}
        )
        assert response.status_code == 201, response.text
    return member_id


async def balance_of(client: ApiClient, member_id: str) -> tuple[int, int]:
    """(posted, held)."""
    points = (await client.get(f"/api/v1/members/{member_id}/points")).json()
    return points["posted"], points["held"]


def checkout_body(member_id: str, external_id: str, *, amount: str, points: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "member_id": member_id,
        "order_amount": amount,
        "currency": "CNY",
        "points": points,
        **extra,
    }
