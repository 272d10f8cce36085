"""Helpers for the coupon tests: a template body, and creating templates, issuing and redeeming through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Coupon
from tests.support.helpers import ApiClient


def template_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": f"t_{uuid.uuid4().hex[:12]}",
        "name": "New member 10% off",
        "kind": "percent",
        "value": "10",
        "validity_days": 30,
    }
    body.update(overrides)
    return body


async def create_template(marketer: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = await marketer.post("/api/v1/coupon-templates", json=template_body(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def issue(client: ApiClient, template_code: str, member_id: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/coupons", json={"template_code": template_code, "member_id": member_id, **extra})


async def issued(client: ApiClient, template_code: str, member_id: str, **extra: Any) -> dict[str, Any]:
    response = await issue(client, template_code, member_id, **extra)
    assert response.status_code == 201, response.text
    coupon: dict[str, Any] = response.json()
    return coupon


async def redeem(client: ApiClient, code: str, member_id: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/coupons/redeem", json={"code": code, "member_id": member_id, **extra})


async def stored_status(sessions: async_sessionmaker[AsyncSession], code: str) -> str:
    async with sessions() as session:
        return str((await session.execute(select(Coupon.status).where(Coupon.code == code))).scalar_one())
