"""Members: create, read (360), update, search; duplicates and idempotent retries."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from models import LedgerAccount, Member
from tests.support.helpers import ApiClient, assert_error, member_body
from workflows.contracts import JOURNEY_KIND, JOURNEY_STEP, MEMBER_ID


async def _count_members(sessions: async_sessionmaker[AsyncSession], external_id: str) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).where(Member.external_id == external_id))).scalar_one())


async def test_create_member_returns_201_with_id_and_opens_points_account(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = member_body()
    response = await shop.post("/api/v1/members", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert uuid.UUID(created["id"])
    assert created["external_id"] == body["external_id"]
    assert created["tier"] == "member"
    assert created["consent"]["email"] is True
    assert created["consent"]["sms"] is False
    assert created["consent"]["email_source"].startswith("api:")
    async with sessions() as session:
        account = (
            await session.execute(select(LedgerAccount).where(LedgerAccount.member_id == uuid.UUID(created["id"])))
        ).scalar_one()
    assert (account.posted, account.held) == (0, 0)


async def test_create_member_starts_the_welcome_journey_with_search_attributes(
    shop: ApiClient, temporal: WorkflowEnvironment, task_queue: str
) -> None:
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    handle = temporal.client.get_workflow_handle(f"journey-welcome-{member['id']}")
    description = await handle.describe()
    assert description.task_queue == task_queue
    attrs = description.typed_search_attributes
    assert attrs.get(MEMBER_ID) == member["id"]
    assert attrs.get(JOURNEY_KIND) == "welcome"
    assert attrs.get(JOURNEY_STEP) == "start"


async def test_duplicate_external_id_is_409_and_writes_nothing(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = member_body()
    first = await shop.post("/api/v1/members", json=body)
    again = await shop.post("/api/v1/members", json={**body, "name": "Someone Else"})
    error = assert_error(again, 409, "member_exists")
    assert error["details"]["member_id"] == first.json()["id"]
    assert await _count_members(sessions, body["external_id"]) == 1


async def test_get_member_returns_the_360_view(shop: ApiClient) -> None:
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    view = (await shop.get(f"/api/v1/members/{member['id']}")).json()
    assert view["points"] == {"posted": 0, "held": 0, "available": 0, "debt": 0}
    assert view["recent_orders"] == []
    assert view["recent_ledger"] == []
    assert view["lifetime_spend"] == "0.00"
    assert view["order_count"] == 0
    assert view["links"]["welcome_journey"].endswith(f"/workflows/journey-welcome-{member['id']}")


async def test_unknown_member_is_404(shop: ApiClient) -> None:
    assert_error(await shop.get(f"/api/v1/members/{uuid.uuid4()}"), 404, "member_not_found")
    assert_error(await shop.get("/api/v1/members/not-a-uuid"), 422, "validation_error")


async def test_patch_changes_only_given_fields_and_stamps_consent(shop: ApiClient) -> None:
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    response = await shop.patch(
        f"/api/v1/members/{member['id']}", json={"name": "Wang Fang (VIP)", "phone": None, "consent": {"sms": True}}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "W*"  # the shop's answer is masked (tests/privacy/test_masking.py)
    assert updated["phone"] is None
    assert updated["email"] == member["email"]  # both masked alike
    assert updated["consent"]["sms"] is True
    assert updated["consent"]["email"] is True
    assert updated["consent"]["sms_updated_at"] > member["consent"]["sms_updated_at"]
    assert updated["consent"]["email_updated_at"] == member["consent"]["email_updated_at"]


async def test_patch_rejects_unknown_and_immutable_fields(shop: ApiClient) -> None:
    member = (await shop.post("/api/v1/members", json=member_body())).json()
    error = assert_error(
        await shop.patch(f"/api/v1/members/{member['id']}", json={"external_id": "x", "tier": "gold"}), 422
    )
    assert {d["field"] for d in error["details"]} == {"body.external_id", "body.tier"}
    unchanged = (await shop.get(f"/api/v1/members/{member['id']}")).json()
    assert unchanged["external_id"] == member["external_id"]
    assert unchanged["tier"] == "member"


async def test_search_by_query_and_cursor_pagination(shop: ApiClient) -> None:
    marker = uuid.uuid4().hex[:10]
    created = []
    for i in range(5):
        body = member_body(name=f"Search {marker} {i}")
        created.append((await shop.post("/api/v1/members", json=body)).json()["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"query": marker, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await shop.get("/api/v1/members", params=params)).json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))  # newest first, each exactly once


async def test_search_filters_by_tier_and_escapes_wildcards(shop: ApiClient) -> None:
    body = member_body(name=f"Percent {uuid.uuid4().hex[:6]}")
    await shop.post("/api/v1/members", json=body)
    assert (await shop.get("/api/v1/members", params={"query": "%", "limit": 5})).json()["items"] == []
    by_tier = (await shop.get("/api/v1/members", params={"query": body["name"], "tier": "gold"})).json()
    assert by_tier["items"] == []
    by_member_tier = (await shop.get("/api/v1/members", params={"query": body["name"], "tier": "member"})).json()
    assert [m["external_id"] for m in by_member_tier["items"]] == [body["external_id"]]
    assert_error(await shop.get("/api/v1/members", params={"cursor": "!!!"}), 400, "invalid_cursor")
    assert_error(await shop.get("/api/v1/members", params={"limit": 0}), 422, "validation_error")


async def test_idempotency_key_replays_the_first_response(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = member_body()
    headers = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    first = await shop.post("/api/v1/members", json=body, headers=headers)
    second = await shop.post("/api/v1/members", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await _count_members(sessions, body["external_id"]) == 1


async def test_idempotency_key_with_a_different_body_is_409(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    await shop.post("/api/v1/members", json=member_body(), headers=headers)
    other = member_body()
    assert_error(await shop.post("/api/v1/members", json=other, headers=headers), 409, "idempotency_conflict")
    assert await _count_members(sessions, other["external_id"]) == 0


async def test_concurrent_retries_with_one_idempotency_key_create_one_member(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = member_body()
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses = await asyncio.gather(*(shop.post("/api/v1/members", json=body, headers=headers) for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count_members(sessions, body["external_id"]) == 1
