"""Helpers shared by the console's server-side and browser tests: signing in, reading a page's CSRF token, and a
redemption waiting in the approver inbox."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from models import Approval
from services.rewards import approvals
from tests.support.helpers import ApiClient, member_body

Sessions = async_sessionmaker[AsyncSession]

_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def console_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar (one browser, one person)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as client:
        yield client


async def login_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    found = _LOGIN_TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    token = await login_token(client)
    return await client.post("/console/login", data={"api_key": secret, "login_token": token, "next": ""})


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def pending_redemption(
    shop: ApiClient,
    admin: ApiClient,
    sessions: async_sessionmaker[AsyncSession],
    *,
    cost: int = 6000,
    member_name: str | None = None,
    reward_name: str = "Tea set",
    stock: int | None = 5,
    attempts: int = 200,
) -> Approval:
    """A member with 10,000 points asks for a reward above the approval threshold; returns its approval task
    once the RedemptionApproval workflow has opened it (polling `attempts` times, 50 ms apart)."""
    name = member_name or f"Zhang Wei {uuid.uuid4().hex[:4]}"
    member = (await shop.post("/api/v1/members", json=member_body(name=name))).json()
    await admin.post(
        f"/api/v1/members/{member['id']}/points/adjustments", json={"points": 10000, "reason": "opening balance"}
    )
    reward_body = {"name": f"{reward_name} {uuid.uuid4().hex[:4]}", "points_cost": cost}
    if stock is not None:
        reward_body["stock"] = stock
    reward = (await admin.post("/api/v1/rewards", json=reward_body)).json()
    response = await shop.post("/api/v1/redemptions", json={"member_id": member["id"], "reward_id": reward["id"]})
    assert response.status_code == 202, response.text
    redemption_id = uuid.UUID(response.json()["id"])
    for _ in range(attempts):
        async with sessions() as session:
            try:
                return await approvals.by_redemption(session, redemption_id)
            except NotFound:  # not yet: the workflow opens the task after placing the hold
                pass
        await asyncio.sleep(0.05)
    raise AssertionError("the approval task never appeared")
