"""Rule messages end to end on the time-skipping test server: API → rule → outbox → RuleMessageWorkflow →
coupon and `messaging.send`. Seed 4: a cart left for 2 hours → an SMS with a short-lived coupon, unless the
member ordered in the meantime; and a message is sent once however often its start is delivered."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import Coupon, CouponTemplate, Message
from services import journeys
from services.platform import outbox
from services.platform.audit import Actor
from tests.support.helpers import ApiClient, midday_zone, order_body
from tests.support.rules import Sessions, create_rule, firings, new_scope, rule_body, scoped_member
from tests.support.temporal import HISTORIES
from workflows import contracts
from workflows.contracts import RuleMessageOutcome
from workflows.rule_message import RuleMessageWorkflow

pytestmark = pytest.mark.time_skipping  # the app and the workers talk to this test's own time-skipping server


@pytest_asyncio.fixture
async def without_cart_journey(sessions: Sessions) -> AsyncIterator[None]:
    """The built-in abandoned-cart journey sends the same SMS; this test shows the rule doing it alone."""
    async with sessions() as session:
        await journeys.set_enabled(session, "abandoned_cart", False, actor=Actor.system("test"))
        await session.commit()
    try:
        yield
    finally:
        async with sessions() as session:
            await journeys.set_enabled(session, "abandoned_cart", True, actor=Actor.system("test"))
            await session.commit()


async def _started(env: WorkflowEnvironment, workflow_id: str) -> WorkflowHandle[Any, RuleMessageOutcome]:
    handle = env.client.get_workflow_handle_for(RuleMessageWorkflow.run, workflow_id)
    for _ in range(200):
        try:
            await handle.describe()
            return handle
        except Exception:  # noqa: BLE001 - the outbox delivers right after the request
            await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never started")


async def _messages(sessions: Sessions, member_id: str) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Message.template, Message.status, Message.message_key)
            .where(Message.member_id == uuid.UUID(member_id))
            .order_by(Message.created_at)
        )
        return [(row.template, row.status, row.message_key) for row in rows]


async def _cart_coupons(sessions: Sessions, member_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Coupon.code)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.member_id == uuid.UUID(member_id), CouponTemplate.code == "cart_5")
        )
        return list(rows.scalars())


async def test_cart_left_two_hours_gets_one_sms_with_a_coupon_unless_they_ordered(
    marketer: ApiClient,
    shop: ApiClient,
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
    workers: None,
    without_cart_journey: None,
    task_queue: str,
) -> None:
    scope = new_scope()
    created = await create_rule(
        marketer,
        rule_body(
            scope,
            trigger={"event": "cart_abandoned"},
            limit="once_per_day",
            actions=[
                {
                    "send_message": {
                        "channel": "sms",
                        "template": "cart_reminder",
                        "coupon": "cart_5",
                        "delay": {"hours": 2},
                        "unless_ordered": True,
                    }
                }
            ],
        ),
    )
    people = {"email": True, "sms": True}
    left = await scoped_member(shop, sessions, scope, timezone=midday_zone(), consent=people)
    bought = await scoped_member(shop, sessions, scope, timezone=midday_zone(), consent=people)
    now = datetime.now(UTC).isoformat()
    for member_id in (left, bought):
        event = {"member_id": member_id, "type": "cart_abandoned", "occurred_at": now, "properties": {"cart_id": "c"}}
        assert (await shop.post("/api/v1/events", json=event)).status_code == 201
    handles = {}
    for member_id in (left, bought):
        [firing] = await firings(sessions, created["id"], member_id)
        handles[member_id] = await _started(temporal_env, f"rule-{created['id']}-v1-{firing.event_key}")
    await temporal_env.sleep(timedelta(hours=1))
    assert await _cart_coupons(sessions, left) == []  # nothing before the two hours are up
    waiting = await handles[left].query(RuleMessageWorkflow.status)
    assert (waiting.state, waiting.current, waiting.results) == ("waiting", 0, [])
    await shop.post("/api/v1/orders", json=order_body(bought, amount="12.00"))
    await temporal_env.sleep(timedelta(hours=2))
    assert (await handles[left].result()).results == ["0:sent"]
    assert (await handles[bought].result()).results == ["0:skipped_ordered"]
    done = await handles[left].query(RuleMessageWorkflow.status)
    assert (done.state, done.current, done.results, done.rule_id) == ("done", None, ["0:sent"], created["id"])
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
        history = await handles[left].fetch_history()
        (HISTORIES / "rule_cart_message.json").write_text(history.to_json())

    sms = [m for m in await _messages(sessions, left) if m[0] == "cart_reminder"]
    assert [(t, s) for t, s, _ in sms] == [("cart_reminder", "sent")]
    assert sms[0][2] == f"{handles[left].id}:0"
    [code] = await _cart_coupons(sessions, left)
    async with sessions() as session:
        body = (await session.execute(select(Message.body).where(Message.message_key == sms[0][2]))).scalar_one()
    assert code in body
    assert all(m[0] != "cart_reminder" for m in await _messages(sessions, bought))
    assert await _cart_coupons(sessions, bought) == []

    # The outbox delivers the same start again (a relay retry): the workflow id is taken, nothing is resent.
    [firing] = await firings(sessions, created["id"], left)
    async with sessions() as session:
        again = contracts.rule_message_start(
            contracts.RuleMessageInput.model_validate(
                {
                    "member_id": left,
                    "rule_id": created["id"],
                    "version": 1,
                    "event_at": now,
                    "sends": [{"index": 0, "channel": "sms", "template": "cart_reminder", "coupon": "cart_5"}],
                }
            ),
            event_key=firing.event_key,
            task_queue=task_queue,
        )
        assert again.id == handles[left].id
        row = await outbox.enqueue_start(session, again)
        await session.commit()
    assert await outbox.dispatch(sessions, temporal_env.client, ids=[row.id]) == 1
    await temporal_env.sleep(timedelta(hours=3))
    assert len([m for m in await _messages(sessions, left) if m[0] == "cart_reminder"]) == 1
    assert len(await _cart_coupons(sessions, left)) == 1
