"""Points through the API: tiers, refunds, behaviour events, rewards and redemptions, adjustments, checks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, MemberEvent
from services.platform.api_keys import Role
from tests.conftest import KeyMaker
from tests.support.helpers import ApiClient, assert_error, new_member_id, order_body, walk_pages

_member = new_member_id


async def _order(shop: ApiClient, member_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    response = await shop.post("/api/v1/orders", json=order_body(member_id, amount=amount, **overrides))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def _points(shop: ApiClient, member_id: str) -> dict[str, Any]:
    points: dict[str, Any] = (await shop.get(f"/api/v1/members/{member_id}/points")).json()
    return points


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


# --- behaviour events ------------------------------------------------------------------------------------


def _event(member_id: str, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "type": kind, "occurred_at": at.isoformat(), **extra}


async def test_check_in_pays_once_per_local_calendar_day(shop: ApiClient) -> None:
    member_id = await _member(shop, timezone="Asia/Shanghai")
    # 2026-11-20 15:30 UTC is 23:30 in Shanghai; 16:30 UTC is already the 21st there.
    late = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    statuses = []
    for at in (late, late + timedelta(minutes=20), late + timedelta(hours=1)):
        response = await shop.post("/api/v1/events", json=_event(member_id, "checked_in", at))
        assert response.status_code == 201, response.text
        statuses.append((response.json()["award_status"], response.json()["points_awarded"]))
    assert statuses == [("awarded", 10), ("already_awarded", 0), ("awarded", 10)]
    assert (await _points(shop, member_id))["posted"] == 20


async def test_once_only_awards_and_reviews_and_duplicates(shop: ApiClient) -> None:
    member_id = await _member(shop)
    now = datetime.now(UTC)
    results = []
    for body in (
        _event(member_id, "profile_completed", now),
        _event(member_id, "profile_completed", now),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-1"}),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-1"}),
        _event(member_id, "review_posted", now, properties={"review_id": "rv-2"}),
        _event(member_id, "cart_abandoned", now, properties={"cart_id": "c1"}),
        _event(member_id, "shared", now, event_id="share-1"),
        _event(member_id, "shared", now, event_id="share-1"),
    ):
        response = await shop.post("/api/v1/events", json=body)
        assert response.status_code == 201, response.text
        results.append(
            (response.json()["award_status"], response.json()["points_awarded"], response.json()["duplicate"])
        )
    assert results == [
        ("awarded", 50, False),
        ("already_awarded", 0, False),
        ("awarded", 20, False),
        ("already_awarded", 0, False),
        ("awarded", 20, False),
        ("no_award", 0, False),
        ("awarded", 5, False),
        ("already_awarded", 0, True),
    ]
    assert (await _points(shop, member_id))["posted"] == 95


async def test_bad_events_are_rejected(shop: ApiClient) -> None:
    member_id = await _member(shop)
    now = datetime.now(UTC)
    cases = [
        (_event(member_id, "teleported", now), "body.type"),
        (_event(member_id, "checked_in", now + timedelta(days=1)), "body.occurred_at"),
        (_event(member_id, "checked_in", now - timedelta(days=800)), "body.occurred_at"),
        ({**_event(member_id, "checked_in", now), "occurred_at": "2026-11-20T10:00:00"}, "body.occurred_at"),
        (_event(member_id, "shared", now, properties={"blob": "x" * 9000}), "body.properties"),
    ]
    for body, field in cases:
        error = assert_error(await shop.post("/api/v1/events", json=body), 422, "validation_error")
        assert field in {d["field"] for d in error["details"]}
    assert_error(await shop.post("/api/v1/events", json=_event(str(uuid.uuid4()), "checked_in", now)), 404)
    assert (await _points(shop, member_id))["posted"] == 0


# --- rewards and redemptions -----------------------------------------------------------------------------


async def _reward(client: ApiClient, *, cost: int, stock: int | None, **extra: Any) -> str:
    response = await client.post(
        "/api/v1/rewards", json={"name": f"Reward {uuid.uuid4().hex[:6]}", "points_cost": cost, "stock": stock, **extra}
    )
    assert response.status_code == 201, response.text
    reward_id: str = response.json()["id"]
    return reward_id


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


# --- concurrency -----------------------------------------------------------------------------------------


async def test_same_order_posted_ten_times_at_once_with_one_key_credits_once(shop: ApiClient) -> None:
    member_id = await _member(shop)
    body = order_body(member_id, amount="77.00")
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses = await asyncio.gather(*(shop.post("/api/v1/orders", json=body, headers=headers) for _ in range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await _points(shop, member_id))["posted"] == 77


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
