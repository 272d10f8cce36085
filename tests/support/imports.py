"""Bulk import helpers: files of members, orders and events for one fresh prefix, and waiting for an import."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.helpers import ApiClient

NOW = datetime.now(UTC)


def prefix() -> str:
    return f"imp-{uuid.uuid4().hex[:10]}"


def members_csv(p: str) -> str:
    """Three good members (joined long ago, one with consent), and three bad rows: a repeat of the first
    member (in its chunk: a repeat in a later chunk is skipped as already there), a bad email, and an
    unknown custom field."""
    joined = (NOW - timedelta(days=800)).isoformat()
    consent_at = (NOW - timedelta(days=700)).isoformat()
    return (
        "external_id,name,email,joined_at,tags,attributes,consent_email,consent_email_at\n"
        f"{p}-a,Ann,ann@example.com,{joined},vip|app_user,,true,{consent_at}\n"
        f"{p}-a,Ann again,ann2@example.com,{joined},,,false,\n"
        f"{p}-b,Bo,not-an-email,{joined},,,false,\n"
        f'{p}-c,Cy,cy@example.com,{joined},,"{{""no_such_field_x"": 1}}",false,\n'
        f"{p}-d,Di,di@example.com,{joined},,,true,\n"
        f"{p}-e,Ed,,,,,false,\n"
    )


def orders_jsonl(p: str) -> str:
    """Ann: an order 500 days ago (its points have expired), then two recent ones that lift her to a higher
    tier. Di: one small order. Bad rows: an unknown member, a negative amount, text that is not JSON."""
    rows: list[Any] = [
        {"order_id": f"{p}-o1", "member_external_id": f"{p}-a", "amount": "400.00", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=500)).isoformat()},
        {"order_id": f"{p}-o2", "member_external_id": f"{p}-a", "amount": "700.00", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=30)).isoformat()},
        {"order_id": f"{p}-o3", "member_external_id": f"{p}-a", "amount": "5000.00", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=10)).isoformat()},
        {"order_id": f"{p}-o4", "member_external_id": f"{p}-d", "amount": "19.99", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=5)).isoformat()},
        {"order_id": f"{p}-o5", "member_external_id": f"{p}-nobody", "amount": "10.00", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=5)).isoformat()},
        {"order_id": f"{p}-o6", "member_external_id": f"{p}-d", "amount": "-3.00", "currency": "EUR",
         "placed_at": (NOW - timedelta(days=5)).isoformat()},
    ]  # fmt: skip
    lines = [json.dumps(row) for row in rows]
    lines.insert(3, "{not json")
    return "\n".join(lines) + "\n"


def events_csv(p: str) -> str:
    at = (NOW - timedelta(days=3)).isoformat()
    return (
        "event_id,member_external_id,type,occurred_at,properties\n"
        f'{p}-e1,{p}-a,checked_in,{at},"{{""store"": ""S1""}}"\n'
        f"{p}-e2,{p}-d,review_posted,{at},\n"
        f"{p}-e3,{p}-a,teleported,{at},\n"
    )


async def upload(client: ApiClient, import_id: str, kind: str, body: str, fmt: str) -> None:
    response = await client.post(
        f"/api/v1/imports/{import_id}/files", params={"kind": kind, "format": fmt}, content=body.encode()
    )
    assert response.status_code == 201, response.text


async def new_import(client: ApiClient, p: str, *, chunk_rows: int = 2) -> str:
    """An import of the three files above, not started yet."""
    response = await client.post("/api/v1/imports", json={"chunk_rows": chunk_rows})
    assert response.status_code == 201, response.text
    import_id: str = response.json()["id"]
    await upload(client, import_id, "orders", orders_jsonl(p), "jsonl")  # uploaded first, still runs second
    await upload(client, import_id, "members", members_csv(p), "csv")
    await upload(client, import_id, "events", events_csv(p), "csv")
    return import_id


async def wait_done(client: ApiClient, import_id: str, *, seconds: float = 60) -> dict[str, Any]:
    """Poll the import until it is completed (or failed)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get(f"/api/v1/imports/{import_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] in ("completed", "failed"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)
