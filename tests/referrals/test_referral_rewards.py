"""The Referral workflow on the time-skipping server: a referee's first order waits out the return window and
then both members are rewarded once; a refund within the window rewards no one. The ledger check stays exact."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import ApiClient, new_member_id, order_body
from tests.support.loyalty import points_of
from tests.support.referrals import (
    Sessions,
    code_of,
    ledger_exact,
    programme_set,
    referral_of,
    referral_postings,
    sign_up,
    unique_contact,
)
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


async def _referred_pair(shop: ApiClient, sessions: Sessions) -> tuple[str, str]:
    referrer = await new_member_id(shop, **unique_contact())
    joined = await sign_up(shop, await code_of(sessions, referrer))
    assert joined.status_code == 201, joined.text
    return referrer, joined.json()["id"]


async def _first_order(shop: ApiClient, referee: str, amount: str = "300.00") -> str:
    placed = await shop.post("/api/v1/orders", json=order_body(referee, amount=amount, items=[]))
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


async def _started(env: WorkflowEnvironment, referee: str) -> WorkflowHandle[object, contracts.ReferralOutcome]:
    handle = env.client.get_workflow_handle(
        contracts.referral_workflow_id(referee), result_type=contracts.ReferralOutcome
    )
    status = await value_when(
        lambda: handle.query(contracts.STATUS_QUERY, result_type=contracts.ReferralStatus),
        lambda s: s.state == "waiting",
        what="the referral run",
    )
    assert status.refund_id is None
    return handle


async def test_window_passes_and_both_members_are_rewarded_once(
    shop: ApiClient, sessions: Sessions, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    async with programme_set(sessions, return_window_days=14, referrer_points=500, referee_points=200):
        referrer, referee = await _referred_pair(shop, sessions)
        linked = await referral_of(sessions, referee)
        assert linked is not None
        assert (linked.status, str(linked.referrer_id)) == ("linked", referrer)
        order_id = await _first_order(shop, referee)
        handle = await _started(temporal_env, referee)
        qualifying = await referral_of(sessions, referee)
        assert qualifying is not None
        assert (qualifying.status, str(qualifying.order_id)) == ("qualifying", order_id)
        # Nothing is paid while the window is open.
        await temporal_env.sleep(timedelta(days=13))
        assert (await points_of(shop, referrer))["posted"] == 0
        await temporal_env.sleep(timedelta(days=2))
        assert (await handle.result()).result == "rewarded"
        # A second order and a late refund change nothing any more.
        await _first_order(shop, referee, amount="50.00")
        refund = {"external_id": f"rf-{uuid.uuid4().hex[:8]}", "amount": "300.00"}
        assert (await shop.post(f"/api/v1/orders/{order_id}/refunds", json=refund)).status_code == 201
    assert (await points_of(shop, referrer))["posted"] == 500
    assert (await points_of(shop, referee))["posted"] == 50 + 200  # 300 earned, clawed back by the refund
    settled = await referral_of(sessions, referee)
    assert settled is not None
    assert (settled.status, settled.referrer_points, settled.referee_points) == ("rewarded", 500, 200)
    assert await referral_postings(sessions, settled.id) == 2
    assert await ledger_exact(sessions)
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / "referral_rewarded.json").write_text((await handle.fetch_history()).to_json())


async def test_refund_within_the_window_rewards_no_one(
    shop: ApiClient, sessions: Sessions, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    async with programme_set(sessions, return_window_days=14):
        referrer, referee = await _referred_pair(shop, sessions)
        order_id = await _first_order(shop, referee)
        handle = await _started(temporal_env, referee)
        await temporal_env.sleep(timedelta(days=3))
        refund = {"external_id": f"rf-{uuid.uuid4().hex[:8]}", "amount": "100.00"}
        refunded = await shop.post(f"/api/v1/orders/{order_id}/refunds", json=refund)
        assert refunded.status_code == 201, refunded.text
        assert (await handle.result()).result == "cancelled"
        status = await handle.query(contracts.STATUS_QUERY, result_type=contracts.ReferralStatus)
        assert (status.state, status.refund_id) == ("cancelled", refunded.json()["refund"]["id"])
    assert (await points_of(shop, referrer))["posted"] == 0
    assert (await points_of(shop, referee))["posted"] == 200  # the order's 300 less the refund's share
    settled = await referral_of(sessions, referee)
    assert settled is not None
    assert (settled.status, settled.cancel_reason) == ("cancelled", "order_refunded")
    assert await referral_postings(sessions, settled.id) == 0
    assert await ledger_exact(sessions)
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / "referral_refunded.json").write_text((await handle.fetch_history()).to_json())
