"""Small helpers shared by tests: an authenticated client, valid request bodies, time zones for quiet hours."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry
from services.platform.api_keys import Role

KeyMaker = Callable[[Role], Awaitable[str]]
"""The `make_key` fixture: issues a fresh API key of a role and returns its secret."""


@dataclass
class ApiClient:
    """An httpx client that sends one API key."""

    http: httpx.AsyncClient
    key: str

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **(kw.pop("headers", None) or {})}
        return await self.http.request(method, url, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)


async def walk_pages(
    client: ApiClient, url: str, *, limit: int, params: dict[str, Any] | None = None, max_pages: int = 1000
) -> list[dict[str, Any]]:
    """Every item of a cursor-paged list, following `next_cursor` from the first page to the last."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(max_pages):
        query = {**(params or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next cursor must not be empty"
    raise AssertionError(f"{url} did not end within {max_pages} pages")


async def role_client(http: httpx.AsyncClient, make_key: KeyMaker, role: Role) -> ApiClient:
    """A client with a fresh key of `role` (the `admin`, `shop`, `marketer` and `approver` fixtures)."""
    return ApiClient(http, await make_key(role))


def member_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": f"cust-{uuid.uuid4().hex[:12]}",
        "name": "Wang Fang",
        "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "phone": "+8613800138000",
        "birthday": "1990-05-17",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
        "consent": {"email": True, "sms": False},
    }
    body.update(overrides)
    return body


PROFILE = ("name", "email", "phone", "birthday")


async def create_member(client: ApiClient, **overrides: Any) -> dict[str, Any]:
    """A member created through the API from `member_body(**overrides)`: the response body, with the profile
    (name, email, phone, birthday) as sent, since the answer masks it for the caller's role (the masks are
    tested in tests/privacy/test_masking.py); custom field values stay as answered."""
    body = member_body(**overrides)
    response = await client.post("/api/v1/members", json=body)
    assert response.status_code == 201, response.text
    member: dict[str, Any] = {**response.json(), **{k: body[k] for k in PROFILE if k in body}}
    return member


async def new_member_id(client: ApiClient, **overrides: Any) -> str:
    """The id of a member created through the API from `member_body(**overrides)`."""
    return str((await create_member(client, **overrides))["id"])


def order_body(member_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": f"ord-{uuid.uuid4().hex[:12]}",
        "member_id": member_id,
        "amount": "129.90",
        "currency": "CNY",
        "status": "completed",
        "placed_at": "2026-01-15T10:30:00Z",
        "items": [{"sku": "TEA-001", "name": "Oolong", "quantity": 2, "unit_price": "64.95"}],
    }
    body.update(overrides)
    return body


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code is not None:
        assert error["code"] == code, error
    return error


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset time zone where the local hour is about `hour` right now (e.g. 13 for a send that quiet
    hours never defer, 3 for one they do)."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12  # -12..+11 hours from UTC
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def audit_rows(sessions: async_sessionmaker[AsyncSession], target_id: str) -> list[dict[str, Any]]:
    """A target's audit rows, oldest first, as a reader of the log compares them (without id and time)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.target_id == target_id)
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        ).scalars()
        return [
            {
                "actor_key_id": row.actor_key_id,
                "actor": row.actor,
                "action": row.action,
                "target_type": row.target_type,
                "details": row.details,
            }
            for row in rows
        ]


def without_via(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows without `details.via`, the one thing that tells the API's rows from the console's."""
    return [{**row, "details": {k: v for k, v in row["details"].items() if k != "via"}} for row in rows]


def midday_zone() -> str:
    """Early afternoon right now, so quiet hours never defer these sends."""
    return zone_where_it_is(13)
