"""High-value redemption approval end to end: API → hold → RedemptionApproval workflow → inbox → decision
(a Temporal update) → ledger post or void, on the time-skipping test server."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import Message
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, assert_error, member_body
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from worker import build_channel_workers, build_worker
from workflows.redemption_approval import RedemptionApproval

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.time_skipping  # the app and the workers talk to this test's own time-skipping server


async def _start(workers: list[Worker]) -> None:
    for worker in workers:
        await worker.__aenter__()


async def _stop(workers: list[Worker]) -> None:
    for worker in reversed(workers):
        await worker.__aexit__(None, None, None)


async def _setup(
    shop: ApiClient, admin: ApiClient, *, cost: int = 6000, stock: int | None = 3, balance: int = 10000
) -> tuple[str, str]:
    member = (
        await shop.post("/api/v1/members", json=member_body(timezone="UTC", consent={"email": True, "sms": False}))
    ).json()
    await admin.post(
        f"/api/v1/members/{member['id']}/points/adjustments", json={"points": balance, "reason": "opening balance"}
    )
    reward = (
        await admin.post(
            "/api/v1/rewards",
            json={"name": f"Espresso machine {uuid.uuid4().hex[:4]}", "points_cost": cost, "stock": stock},
        )
    ).json()
    return member["id"], reward["id"]


async def _request(shop: ApiClient, member_id: str, reward_id: str) -> dict[str, Any]:
    response = await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id})
    assert response.status_code == 202, response.text
    redemption: dict[str, Any] = response.json()
    return redemption


async def _pending(approver: ApiClient, redemption_id: str) -> dict[str, Any]:
    for _ in range(200):
        for item in (await approver.get("/api/v1/approvals")).json():
            if item["redemption_id"] == redemption_id:
                return dict(item)
        await asyncio.sleep(0.05)
    raise AssertionError("the approval task never appeared")


async def _points(client: ApiClient, member_id: str) -> tuple[int, int]:
    points = (await client.get(f"/api/v1/members/{member_id}/points")).json()
    return points["posted"], points["held"]


async def _templates(sessions: Sessions, member_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Message.template).where(Message.member_id == uuid.UUID(member_id)).order_by(Message.created_at)
        )
        return list(rows.scalars().all())


async def _redemption_templates(sessions: Sessions, member_id: str) -> list[str]:
    """The redemption emails this member was sent, oldest first (the welcome journey's are left out)."""
    return [t for t in await _templates(sessions, member_id) if t.startswith("redemption_")]


async def _redemption_state(
    shop: ApiClient, approver: ApiClient, task_id: str, member_id: str, reward_id: str, redemption_id: str
) -> tuple[Any, ...]:
    """Everything one decision settles: the member's points, the reward's stock, the redemption's and the
    approval task's status."""
    return (
        await _points(shop, member_id),
        (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"],
        (await shop.get(f"/api/v1/redemptions/{redemption_id}")).json()["status"],
        (await approver.get(f"/api/v1/approvals/{task_id}")).json()["status"],
    )


async def test_approve_posts_the_hold_and_shipping_completes_it(
    shop: ApiClient,
    admin: ApiClient,
    approver: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
) -> None:
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    assert redemption["status"] == "pending_approval"
    assert await _points(shop, member_id) == (10000, 6000)
    task = await _pending(approver, redemption["id"])
    assert task["member"]["points_available"] == 4000
    assert "account created 0 day(s) before the request" in task["risk_hints"]
    approved = await approver.post(f"/api/v1/approvals/{task['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", approver_name(approved))
    assert await _points(shop, member_id) == (4000, 0)
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 2
    assert (await shop.get(f"/api/v1/redemptions/{redemption['id']}")).json()["status"] == "fulfilling"
    kinds = [line["kind"] for line in (await shop.get(f"/api/v1/members/{member_id}/ledger")).json()["items"]]
    assert kinds[:3] == ["post", "post", "hold"]  # the hold's release and the spend, then the hold
    again = await approver.post(f"/api/v1/approvals/{task['id']}/approve")
    assert_error(again, 409, "already_decided")
    shipped = await shop.post(f"/api/v1/redemptions/{redemption['id']}/shipped", json={"tracking_number": "SF123"})
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "fulfilled"
    handle = temporal_env.client.get_workflow_handle(f"redemption-{redemption['id']}")
    state = await handle.query(RedemptionApproval.status)
    assert state.step == "fulfilled"
    await handle.result()
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / "redemption_approval.json").write_text((await handle.fetch_history()).to_json())
    sent = await value_when(
        lambda: _redemption_templates(sessions, member_id), lambda found: len(found) >= 3, what="the three emails"
    )
    assert sent == ["redemption_pending", "redemption_approved", "redemption_shipped"]


def approver_name(response: httpx.Response) -> str:
    name: str = response.json()["decided_by"]
    assert name.startswith("test-approver")
    return name


async def test_reject_needs_a_reason_and_releases_the_points(
    shop: ApiClient, admin: ApiClient, approver: ApiClient, workers: list[Worker], sessions: Sessions
) -> None:
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    assert_error(await approver.post(f"/api/v1/approvals/{task['id']}/reject", json={}), 422)
    rejected = await approver.post(f"/api/v1/approvals/{task['id']}/reject", json={"reason": "looks like fraud"})
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "looks like fraud")
    assert await _points(shop, member_id) == (10000, 0)
    assert (await shop.get(f"/api/v1/redemptions/{redemption['id']}")).json()["status"] == "rejected"
    assert (await shop.get(f"/api/v1/rewards/{reward_id}")).json()["stock"] == 3


async def test_no_decision_escalates_then_expires(
    shop: ApiClient, admin: ApiClient, approver: ApiClient, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    await temporal_env.sleep(timedelta(hours=25))
    escalated = (await approver.get(f"/api/v1/approvals/{task['id']}")).json()
    assert (escalated["status"], escalated["escalated"]) == ("pending", True)
    await temporal_env.sleep(timedelta(hours=24))
    outcome = await temporal_env.client.get_workflow_handle(f"redemption-{redemption['id']}").result()
    assert outcome["status"] == "expired"
    assert (await approver.get(f"/api/v1/approvals/{task['id']}")).json()["status"] == "expired"
    assert await _points(shop, member_id) == (10000, 0)
    assert_error(await approver.post(f"/api/v1/approvals/{task['id']}/approve"), 409, "already_decided")


async def test_member_cancels_while_pending(
    shop: ApiClient, admin: ApiClient, approver: ApiClient, workers: list[Worker]
) -> None:
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    cancelled = await shop.post(f"/api/v1/redemptions/{redemption['id']}/cancel", json={"reason": "changed my mind"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await approver.get(f"/api/v1/approvals/{task['id']}")).json()["status"] == "withdrawn"
    assert await _points(shop, member_id) == (10000, 0)
    assert_error(await shop.post(f"/api/v1/redemptions/{redemption['id']}/cancel"), 409, "already_decided")


async def test_two_approvers_at_once_exactly_one_wins(
    shop: ApiClient,
    admin: ApiClient,
    approver: ApiClient,
    http: httpx.AsyncClient,
    sessions: Sessions,
    workers: list[Worker],
) -> None:
    second_name = f"second-approver-{uuid.uuid4().hex[:6]}"
    async with sessions() as session:
        second = ApiClient(http, (await api_keys.create(session, name=second_name, role=Role.APPROVER)).secret)
        await session.commit()
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    first, other = await asyncio.gather(
        approver.post(f"/api/v1/approvals/{task['id']}/approve"),
        second.post(f"/api/v1/approvals/{task['id']}/reject", json={"reason": "not eligible"}),
    )
    assert sorted([first.status_code, other.status_code]) == [200, 409]
    winner, loser = (first, other) if first.status_code == 200 else (other, first)
    assert loser.json()["error"]["code"] == "already_decided"
    state = await _redemption_state(shop, approver, task["id"], member_id, reward_id, redemption["id"])
    if winner is first:  # the approval won: the points are spent, one unit of stock is gone
        assert (winner.json()["status"], winner.json()["decided_by"]) == ("approved", approver_name(winner))
        assert state == ((4000, 0), 2, "fulfilling", "approved")
    else:  # the rejection won: the hold is released, the stock untouched
        assert (winner.json()["status"], winner.json()["reason"]) == ("rejected", "not eligible")
        assert winner.json()["decided_by"] == second_name
        assert state == ((10000, 0), 3, "rejected", "rejected")


async def test_an_approval_racing_the_members_cancel_settles_one_way_only(
    shop: ApiClient, admin: ApiClient, approver: ApiClient, workers: list[Worker]
) -> None:
    """The approver and the member act at the same moment: exactly one of them decides, the other is told so,
    and the points, stock and statuses are those of the one that won (never a spend on a cancelled order)."""
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    approved, cancelled = await asyncio.gather(
        approver.post(f"/api/v1/approvals/{task['id']}/approve"),
        shop.post(f"/api/v1/redemptions/{redemption['id']}/cancel", json={"reason": "changed my mind"}),
    )
    assert sorted([approved.status_code, cancelled.status_code]) == [200, 409], (approved.text, cancelled.text)
    loser = approved if approved.status_code == 409 else cancelled
    assert loser.json()["error"]["code"] == "already_decided"
    state = await _redemption_state(shop, approver, task["id"], member_id, reward_id, redemption["id"])
    if approved.status_code == 200:
        assert approved.json()["status"] == "approved"
        assert state == ((4000, 0), 2, "fulfilling", "approved")
    else:
        assert cancelled.json()["status"] == "cancelled"
        assert state == ((10000, 0), 3, "cancelled", "withdrawn")
    lines = (await shop.get(f"/api/v1/members/{member_id}/ledger")).json()["items"]
    spends = [line for line in lines if line["kind"] == "post" and line["amount"] < 0]
    assert len(spends) == (1 if approved.status_code == 200 else 0)


async def test_stock_gone_before_approval_fails_cleanly(
    shop: ApiClient, admin: ApiClient, approver: ApiClient, workers: list[Worker], sessions: Sessions
) -> None:
    member_id, reward_id = await _setup(shop, admin, stock=1)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    await admin.patch(f"/api/v1/rewards/{reward_id}", json={"stock": 0})
    response = await approver.post(f"/api/v1/approvals/{task['id']}/approve")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["reason"]) == ("rejected", "out of stock")
    assert await _points(shop, member_id) == (10000, 0)
    assert (await shop.get(f"/api/v1/redemptions/{redemption['id']}")).json()["status"] == "rejected"
    sent = await value_when(
        lambda: _redemption_templates(sessions, member_id),
        lambda found: "redemption_rejected" in found,
        what="the rejection email",
    )
    assert sent == ["redemption_pending", "redemption_rejected"]


async def test_requester_cannot_approve_their_own_request(
    admin: ApiClient, shop: ApiClient, approver: ApiClient, workers: list[Worker]
) -> None:
    member_id, reward_id = await _setup(shop, admin)
    response = await admin.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id})
    assert response.status_code == 202
    task = await _pending(approver, response.json()["id"])
    assert_error(await admin.post(f"/api/v1/approvals/{task['id']}/approve"), 403, "self_approval")
    assert_error(await shop.post(f"/api/v1/approvals/{task['id']}/approve"), 403, "insufficient_role")
    assert_error(await approver.post(f"/api/v1/approvals/{uuid.uuid4()}/approve"), 404, "approval_not_found")
    assert_error(
        await shop.post(f"/api/v1/redemptions/{response.json()['id']}/shipped", json={"tracking_number": "X"}),
        409,
        "not_shippable",
    )


async def test_a_worker_restart_while_waiting_loses_nothing_and_posts_once(
    shop: ApiClient,
    admin: ApiClient,
    approver: ApiClient,
    temporal_env: WorkflowEnvironment,
    sessions: Sessions,
    settings: Settings,
    task_queue: str,
) -> None:
    def fleet() -> list[Worker]:
        # No sticky cache: on the time-skipping server a dead worker's sticky queue would never time out.
        return [
            build_worker(temporal_env.client, sessions, task_queue, settings, max_cached_workflows=0),
            *build_channel_workers(temporal_env.client, sessions, settings),
        ]

    first = fleet()
    await _start(first)
    member_id, reward_id = await _setup(shop, admin)
    redemption = await _request(shop, member_id, reward_id)
    task = await _pending(approver, redemption["id"])
    await _stop(first)  # the worker dies while the run waits for a decision
    second = fleet()
    await _start(second)
    try:
        approved = await approver.post(f"/api/v1/approvals/{task['id']}/approve")
        assert approved.status_code == 200, approved.text
    finally:
        await _stop(second)
    assert await _points(shop, member_id) == (4000, 0)
    lines = (await shop.get(f"/api/v1/members/{member_id}/ledger")).json()["items"]
    assert sum(1 for line in lines if line["kind"] == "post" and not line["pending"]) == 1
