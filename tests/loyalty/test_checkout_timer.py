"""The CheckoutHold workflow on the time-skipping test server: the hold is released at the timeout and the
balance restored; a capture before it ends the timer; and, over real Postgres, two checkouts at once never
spend the same points, and a capture racing the timeout settles the checkout exactly once."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.errors import Conflict
from services.intake import orders
from services.loyalty import checkouts
from tests.support.checkouts import balance_of, checkout_body, funded_member, programme_rate
from tests.support.helpers import ApiClient, assert_error, order_body
from tests.support.ledger import assert_ledger_ok
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from workflows import contracts

Sessions = async_sessionmaker[AsyncSession]


async def _hold(shop: ApiClient, member_id: str, points: int, amount: str, **extra: Any) -> dict[str, Any]:
    response = await shop.post(
        "/api/v1/checkouts",
        json=checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount=amount, points=points, **extra),
    )
    assert response.status_code == 201, response.text
    checkout: dict[str, Any] = response.json()
    return checkout


async def _started(env: WorkflowEnvironment, checkout_id: str) -> WorkflowHandle[Any, Any]:
    """The checkout's timer once the outbox delivered its start."""
    handle: WorkflowHandle[Any, Any] = env.client.get_workflow_handle(contracts.checkout_workflow_id(checkout_id))

    async def described() -> bool:
        try:
            await handle.describe()
        except RPCError:
            return False
        return True

    await value_when(described, bool, what="the CheckoutHold run")
    return handle


@pytest.mark.time_skipping
async def test_the_timer_releases_the_hold_at_the_timeout(
    shop: ApiClient, admin: ApiClient, sessions: Sessions, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 5_000)
        checkout = await _hold(shop, member_id, 2_000, "80.00", expires_in_minutes=10)
        handle = await _started(temporal_env, checkout["id"])
        await temporal_env.sleep(timedelta(minutes=9))
        assert (await shop.get(f"/api/v1/checkouts/{checkout['id']}")).json()["status"] == "held"
        assert await balance_of(shop, member_id) == (5_000, 2_000)
        await temporal_env.sleep(timedelta(minutes=2))
        outcome = await handle.result()
        assert outcome["status"] == "expired"
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
            (HISTORIES / "checkout_hold_expired.json").write_text((await handle.fetch_history()).to_json())
        assert (await shop.get(f"/api/v1/checkouts/{checkout['id']}")).json()["status"] == "expired"
        assert await balance_of(shop, member_id) == (5_000, 0)
        order = (await shop.post("/api/v1/orders", json=order_body(member_id, amount="80.00"))).json()
        late = await shop.post(f"/api/v1/checkouts/{checkout['id']}/capture", json={"order_id": order["id"]})
        assert_error(late, 409, "checkout_expired")
        assert (await shop.post(f"/api/v1/checkouts/{checkout['id']}/release")).json()["status"] == "expired"
    await assert_ledger_ok(sessions)


@pytest.mark.time_skipping
async def test_a_capture_before_the_timeout_ends_the_timer(
    shop: ApiClient, admin: ApiClient, sessions: Sessions, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    async with programme_rate(sessions):
        member_id = await funded_member(shop, admin, 5_000)
        checkout = await _hold(shop, member_id, 1_500, "60.00")
        handle = await _started(temporal_env, checkout["id"])
        order = await shop.post(
            "/api/v1/orders", json=order_body(member_id, amount="60.00", checkout_id=checkout["id"])
        )
        assert order.status_code == 201, order.text
        outcome = await handle.result()  # settled by the signal: the 30-minute timer never fires
        assert outcome["status"] == "captured"
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
            (HISTORIES / "checkout_hold.json").write_text((await handle.fetch_history()).to_json())
        assert await balance_of(shop, member_id) == (5_000 - 1_500 + 60, 0)
    await assert_ledger_ok(sessions)


async def test_two_checkouts_at_once_never_spend_the_same_points(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        for _ in range(3):
            member_id = await funded_member(shop, admin, 2_000)
            answers = await asyncio.gather(
                *(
                    shop.post(
                        "/api/v1/checkouts",
                        json=checkout_body(member_id, f"co-{uuid.uuid4().hex}", amount="100.00", points=2_000),
                    )
                    for _ in range(2)
                )
            )
            assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
            loser = next(a for a in answers if a.status_code == 409)
            assert loser.json()["error"]["code"] == "insufficient_points"
            assert await balance_of(shop, member_id) == (2_000, 2_000)
    await assert_ledger_ok(sessions)


async def _capture(sessions: Sessions, checkout_id: uuid.UUID, order_id: uuid.UUID) -> str:
    async with sessions() as session:
        try:
            order = await orders.get(session, order_id)
            checkout = await checkouts.capture(session, checkout_id, order, field="body.order_id")
        except Conflict as exc:
            await session.rollback()
            return exc.code
        await session.commit()
        return checkout.status


async def _expire(sessions: Sessions, checkout_id: uuid.UUID) -> str:
    async with sessions() as session:
        status = await checkouts.expire(session, checkout_id)
        await session.commit()
        return status


async def test_a_capture_racing_the_timeout_settles_the_checkout_exactly_once(
    shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    async with programme_rate(sessions):
        for _ in range(4):
            member_id = await funded_member(shop, admin, 1_000)
            checkout = await _hold(shop, member_id, 1_000, "20.00")
            order = (await shop.post("/api/v1/orders", json=order_body(member_id, amount="20.00"))).json()
            checkout_id, order_id = uuid.UUID(checkout["id"]), uuid.UUID(order["id"])
            captured, expired = await asyncio.gather(
                _capture(sessions, checkout_id, order_id), _expire(sessions, checkout_id)
            )
            final = (await shop.get(f"/api/v1/checkouts/{checkout['id']}")).json()["status"]
            # Either the capture won (the timer found it captured) or the timer did (the capture is 409).
            assert (captured, expired, final) in {
                ("captured", "captured", "captured"),
                ("checkout_expired", "expired", "expired"),
            }
            spent = 1_000 if final == "captured" else 0
            assert await balance_of(shop, member_id) == (1_000 - spent + 20, 0)
    await assert_ledger_ok(sessions)
