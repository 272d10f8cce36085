"""A paid plan's events reach rules and journeys: the plan order records `plan_started` (a first membership) or
`plan_renewed` (a renewal) in the order's transaction, the PlanTerm workflow's expiry `plan_ended` (expired),
a cancellation `plan_ended` (cancelled); each once, carrying the plan's code and the membership's id only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import MemberEvent
from services.intake import programme_events
from tests.support.helpers import ApiClient, create_member
from tests.support.ledger import assert_ledger_ok
from tests.support.loyalty import points_of
from tests.support.messaging import Sessions
from tests.support.plans import buy, create_plan, memberships
from tests.support.waiting import value_when

pytestmark = pytest.mark.time_skipping
PLAN_EVENTS = ("plan_started", "plan_renewed", "plan_ended")


@pytest_asyncio.fixture
async def monthly_plan(admin: ApiClient, marketer: ApiClient) -> AsyncIterator[dict[str, Any]]:
    """A one-month plan, a rule per plan event and a journey on `plan_started`, all for this plan's code only
    (rules and journeys are global rows); disabled again afterwards."""
    plan = await create_plan(admin, term_months=1, refund_on_cancel="none")
    code = plan["code"]
    on_plan = {"field": "event.plan", "op": "eq", "value": code}
    rule_ids = []
    for trigger, action, extra in (
        ("plan_started", {"tag": {"add": [f"{code}_started"]}}, None),
        ("plan_renewed", {"grant_points": {"points": 15, "reason": "thanks for renewing"}}, None),
        (
            "plan_ended",
            {"tag": {"add": [f"{code}_expired"]}},
            {"field": "event.reason", "op": "eq", "value": "expired"},
        ),
        (
            "plan_ended",
            {"tag": {"add": [f"{code}_cancelled"]}},
            {"field": "event.reason", "op": "eq", "value": "cancelled"},
        ),
    ):
        rule = {
            "name": f"{trigger}_{uuid.uuid4().hex[:8]}",
            "trigger": {"event": trigger},
            "conditions": {"all": [on_plan, *([extra] if extra else [])]},
            "actions": [action],
        }
        created = await marketer.post("/api/v1/rules", json=rule)
        assert created.status_code == 201, created.text
        rule_ids.append(created.json()["id"])
    journey = {
        "kind": f"welcome_{code}",
        "name": "Welcome to the plan",
        "trigger": {"event": "plan_started", "condition": on_plan},
        "steps": [{"id": "mark", "tag": {"add": [f"{code}_journey"]}}, {"id": "done", "exit": {}}],
    }
    created = await marketer.post("/api/v1/journeys", json=journey)
    assert created.status_code == 201, created.text
    try:
        yield plan
    finally:
        for rule_id in rule_ids:
            assert (await marketer.post(f"/api/v1/rules/{rule_id}/disable")).status_code == 200
        assert (await marketer.post(f"/api/v1/journeys/{journey['kind']}/disable")).status_code == 200


async def _plan_events(sessions: Sessions, member_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        stmt = (
            select(MemberEvent)
            .where(MemberEvent.member_id == uuid.UUID(member_id), MemberEvent.type.in_(PLAN_EVENTS))
            .order_by(MemberEvent.created_at, MemberEvent.id)
        )
        return [(e.type, e.properties) for e in (await session.execute(stmt)).scalars()]


async def _tags(client: ApiClient, member_id: str) -> list[str]:
    tags: list[str] = (await client.get(f"/api/v1/members/{member_id}")).json()["tags"]
    return tags


async def test_start_renewal_and_expiry_each_fire_once(
    shop: ApiClient,
    monthly_plan: dict[str, Any],
    workers: list[Worker],
    sessions: Sessions,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
) -> None:
    code = monthly_plan["code"]
    member_id = (await create_member(shop, locale="en", timezone="UTC"))["id"]
    first = await buy(shop, member_id, monthly_plan)
    (membership,) = await memberships(sessions, member_id)
    ids = {"membership_id": str(membership.id), "plan": code}
    assert await _plan_events(sessions, member_id) == [("plan_started", ids)]
    # The rule ran in the order's transaction; the journey's run tags the member soon after.
    assert f"{code}_started" in await _tags(shop, member_id)
    await value_when(lambda: _tags(shop, member_id), lambda tags: f"{code}_journey" in tags, what="the journey")

    earned = (await points_of(shop, member_id))["posted"]
    await buy(shop, member_id, monthly_plan)  # renewed before the end: the end moves a month on
    assert await _plan_events(sessions, member_id) == [("plan_started", ids), ("plan_renewed", ids)]
    # The renewal's order earns at the plan's x2 (240 for 120.00) and the rule adds its 15.
    assert (await points_of(shop, member_id))["posted"] == earned + 240 + 15
    assert first["points_earned"] == 120  # the first plan order earns before the plan is held

    await temporal_env.sleep(timedelta(days=63))  # two months and a little: the term has run out
    await value_when(lambda: _tags(shop, member_id), lambda tags: f"{code}_expired" in tags, what="plan_ended")
    assert await _plan_events(sessions, member_id) == [
        ("plan_started", ids),
        ("plan_renewed", ids),
        ("plan_ended", ids | {"reason": "expired"}),
    ]
    assert f"{code}_cancelled" not in await _tags(shop, member_id)
    # A retried expiry activity (or the events asked for again) records nothing twice.
    async with sessions() as session:
        assert not await programme_events.plan_ended(session, membership.id, task_queue="unused")
        await session.commit()
    assert len(await _plan_events(sessions, member_id)) == 3
    await assert_ledger_ok(sessions)


async def test_a_cancellation_ends_the_plan_once_with_its_reason(
    shop: ApiClient,
    monthly_plan: dict[str, Any],
    workers: list[Worker],
    sessions: Sessions,
) -> None:
    code = monthly_plan["code"]
    member_id = (await create_member(shop, locale="en", timezone="UTC"))["id"]
    await buy(shop, member_id, monthly_plan)
    (membership,) = await memberships(sessions, member_id)
    cancelled = await shop.post(f"/api/v1/memberships/{membership.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    again = await shop.post(f"/api/v1/memberships/{membership.id}/cancel")
    assert again.status_code == 409  # not active any more: nothing else happens
    ids = {"membership_id": str(membership.id), "plan": code}
    assert await _plan_events(sessions, member_id) == [
        ("plan_started", ids),
        ("plan_ended", ids | {"reason": "cancelled"}),
    ]
    tags = await _tags(shop, member_id)
    assert f"{code}_cancelled" in tags
    assert f"{code}_expired" not in tags
