"""`referral_rewarded` reaches the referrer's rules and journeys: recorded once in the payout's transaction
with the points paid and the reward's kind, nothing for a referral a refund cancelled, nothing twice when the
payout activity is retried."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import MemberEvent
from services import referrals
from services.intake import programme_events
from tests.support.helpers import ApiClient, new_member_id, order_body
from tests.support.loyalty import points_of
from tests.support.referrals import Sessions, code_of, ledger_exact, programme_set, referral_of, sign_up, unique_contact
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


@pytest_asyncio.fixture
async def reactions(marketer: ApiClient) -> AsyncIterator[dict[str, Any]]:
    """A points figure no other test pays a referrer, a rule and a journey that react to it (rules and journeys
    are global rows); disabled again afterwards."""
    points = random.randrange(601, 999)
    tag = f"rr{uuid.uuid4().hex[:10]}"
    paid = [
        {"field": "event.points", "op": "eq", "value": points},
        {"field": "event.reward", "op": "eq", "value": "points"},
    ]
    rule = {
        "name": f"referral_rewarded_{tag}",
        "trigger": {"event": "referral_rewarded"},
        "conditions": {"all": paid},
        "actions": [{"tag": {"add": [f"{tag}_rule"]}}],
    }
    created = await marketer.post("/api/v1/rules", json=rule)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    journey = {
        "kind": f"thanks_{tag}",
        "name": "Thanks for the referral",
        "trigger": {"event": "referral_rewarded", "condition": {"all": paid}},
        "steps": [{"id": "mark", "tag": {"add": [f"{tag}_journey"]}}, {"id": "done", "exit": {}}],
    }
    created = await marketer.post("/api/v1/journeys", json=journey)
    assert created.status_code == 201, created.text
    try:
        yield {"points": points, "tag": tag}
    finally:
        assert (await marketer.post(f"/api/v1/rules/{rule_id}/disable")).status_code == 200
        assert (await marketer.post(f"/api/v1/journeys/{journey['kind']}/disable")).status_code == 200


async def _events(sessions: Sessions, member_id: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        stmt = select(MemberEvent.properties).where(
            MemberEvent.member_id == uuid.UUID(member_id), MemberEvent.type == "referral_rewarded"
        )
        return [dict(p) for p in (await session.execute(stmt)).scalars()]


async def _tags(client: ApiClient, member_id: str) -> list[str]:
    tags: list[str] = (await client.get(f"/api/v1/members/{member_id}")).json()["tags"]
    return tags


async def _referred_order(shop: ApiClient, sessions: Sessions) -> tuple[str, str, str]:
    referrer = await new_member_id(shop, **unique_contact())
    joined = await sign_up(shop, await code_of(sessions, referrer))
    assert joined.status_code == 201, joined.text
    referee = str(joined.json()["id"])
    placed = await shop.post("/api/v1/orders", json=order_body(referee, amount="300.00", items=[]))
    assert placed.status_code == 201, placed.text
    return referrer, referee, str(placed.json()["id"])


async def test_the_referrer_is_told_once_with_the_points_paid(
    shop: ApiClient,
    sessions: Sessions,
    reactions: dict[str, Any],
    workers: list[Worker],
    temporal_env: WorkflowEnvironment,
) -> None:
    points, tag = reactions["points"], reactions["tag"]
    async with programme_set(sessions, return_window_days=14, referrer_points=points, referee_points=200):
        referrer, referee, _ = await _referred_order(shop, sessions)
        handle = temporal_env.client.get_workflow_handle(
            contracts.referral_workflow_id(referee), result_type=contracts.ReferralOutcome
        )
        await value_when(
            lambda: handle.query(contracts.STATUS_QUERY, result_type=contracts.ReferralStatus),
            lambda s: s.state == "waiting",
            what="the referral run",
        )
        assert await _events(sessions, referrer) == []
        await temporal_env.sleep(timedelta(days=15))
        assert (await handle.result()).result == "rewarded"
    referral = await referral_of(sessions, referee)
    assert referral is not None
    assert await _events(sessions, referrer) == [
        {"referral_id": str(referral.id), "points": points, "reward": "points"}
    ]
    assert await _events(sessions, referee) == []  # the event is the referrer's
    assert f"{tag}_rule" in await _tags(shop, referrer)
    await value_when(lambda: _tags(shop, referrer), lambda tags: f"{tag}_journey" in tags, what="the journey")
    # The payout activity retried: nothing is paid or announced a second time.
    async with sessions() as session:
        assert not await programme_events.referral_rewarded(session, referral.id, task_queue="unused")
        await session.commit()
    assert len(await _events(sessions, referrer)) == 1
    assert (await points_of(shop, referrer))["posted"] == points
    assert await ledger_exact(sessions)


async def test_a_cancelled_referral_tells_no_one(
    shop: ApiClient, sessions: Sessions, workers: list[Worker], temporal_env: WorkflowEnvironment
) -> None:
    async with programme_set(sessions, return_window_days=14):
        referrer, referee, order_id = await _referred_order(shop, sessions)
        handle = temporal_env.client.get_workflow_handle(
            contracts.referral_workflow_id(referee), result_type=contracts.ReferralOutcome
        )
        await value_when(
            lambda: handle.query(contracts.STATUS_QUERY, result_type=contracts.ReferralStatus),
            lambda s: s.state == "waiting",
            what="the referral run",
        )
        refund = {"external_id": f"rf-{uuid.uuid4().hex[:8]}", "amount": "300.00"}
        assert (await shop.post(f"/api/v1/orders/{order_id}/refunds", json=refund)).status_code == 201
        assert (await handle.result()).result == "cancelled"
    referral = await referral_of(sessions, referee)
    assert referral is not None
    async with sessions() as session:
        assert not await programme_events.referral_rewarded(session, referral.id, task_queue="unused")
    assert await _events(sessions, referrer) == []
    assert await ledger_exact(sessions)


async def test_two_payouts_at_once_pay_and_announce_once(
    shop: ApiClient, sessions: Sessions, reactions: dict[str, Any]
) -> None:
    """Two payout activities racing (a retry overlapping the first attempt): one pays, one event is recorded."""
    points = reactions["points"]
    async with programme_set(sessions, referrer_points=points, referee_points=200):
        referrer, referee, _ = await _referred_order(shop, sessions)
        referral = await referral_of(sessions, referee)
        assert referral is not None
        assert referral.status == "qualifying"

        async def payout() -> bool:
            async with sessions() as session:
                assert await referrals.reward(session, referral.id) == "rewarded"
                told = await programme_events.referral_rewarded(session, referral.id, task_queue="tq-unused")
                await session.commit()
                return told

        told = await asyncio.gather(payout(), payout())
    assert sorted(told) == [False, True]
    assert await _events(sessions, referrer) == [
        {"referral_id": str(referral.id), "points": points, "reward": "points"}
    ]
    assert (await points_of(shop, referrer))["posted"] == points
    assert f"{reactions['tag']}_rule" in await _tags(shop, referrer)
    assert await ledger_exact(sessions)
