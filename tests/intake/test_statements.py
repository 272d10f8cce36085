"""The hot write paths' cost in statements, pinned: a sign-up, a first and a second order, and a behaviour event,
each through the API with warm caches (the key, the parsed journey definitions, the compiled rules). Their
Temporal commands are written in one INSERT per request and delivered after the response in one transaction
of two statements (lock, mark delivered). A change that adds a statement to one of these paths fails here;
if it is worth it, change the figure and say why in docs/benchmarks.md (live ingest)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models import TemporalOutbox
from tests.support.helpers import ApiClient, member_body, order_body
from tests.support.statements import Sent, counting

DELIVERY = ("SELECT temporal_outbox.", "UPDATE temporal_outbox")


async def _signup(shop: ApiClient) -> str:
    response = await shop.post("/api/v1/members", json=member_body())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _order(shop: ApiClient, member_id: str) -> dict[str, Any]:
    response = await shop.post("/api/v1/orders", json=order_body(member_id))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _check_in(shop: ApiClient, member_id: str) -> None:
    body = {"member_id": member_id, "type": "checked_in", "occurred_at": datetime.now(UTC).isoformat()}
    response = await shop.post("/api/v1/events", json=body)
    assert response.status_code == 201, response.text


async def _warm(shop: ApiClient) -> None:
    """Fill the process's caches as a running API has them: the key, definitions, rules of each trigger."""
    member_id = await _signup(shop)
    await _order(shop, member_id)
    await _order(shop, member_id)
    await _check_in(shop, member_id)


def _expect(sent: Sent, *, request: int, outbox_inserts: int, delivered: bool) -> None:
    own = sent.without(*DELIVERY)
    assert len(own) == request, sent.describe()
    assert len(sent.where("INSERT INTO temporal_outbox")) == outbox_inserts, sent.describe()
    # After the response: one transaction that locks the request's rows and marks them delivered.
    assert len(sent.where(*DELIVERY)) == (2 if delivered else 0), sent.describe()
    assert sent.transactions == (2 if delivered else 1), sent.describe()


@pytest.fixture
async def warm_shop(shop: ApiClient) -> ApiClient:
    await _warm(shop)
    return shop


async def test_a_sign_up_costs_six_statements_and_one_delivery(warm_shop: ApiClient, engine: AsyncEngine) -> None:
    # field definitions, the member (RETURNING the row), its points account, the journeys, the welcome's start,
    # the active sign-up challenges (none here: the built-in starter pack ships paused)
    async with counting(engine) as sent:
        await _signup(warm_shop)
    _expect(sent, request=6, outbox_inserts=1, delivered=True)


async def test_orders_cost_eleven_statements_a_first_twelve_with_their_commands_in_one_insert(
    warm_shop: ApiClient, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    member_id = await _signup(warm_shop)
    # The member (locked), the tier ladder, the paid plans (held, and bought by the order's SKUs: one query), the
    # order (RETURNING the row, so no SELECT at the end), the member's spend, the ledger credit, the event row, the
    # journeys, which runs are live, the outbox, the rules' cache key; a first order also asks whether the member
    # was referred (one UPDATE of referrals, services.referrals).
    async with counting(engine) as first:
        order = await _order(warm_shop, member_id)
    _expect(first, request=12, outbox_inserts=1, delivered=True)
    assert order["points_earned"] == 129
    assert order["created_at"]
    async with sessions() as session:
        rows = (
            await session.execute(
                select(TemporalOutbox.action, TemporalOutbox.workflow_id)
                .where(TemporalOutbox.workflow_id.like(f"%{member_id}"))
                .order_by(TemporalOutbox.id)
            )
        ).all()
    # The welcome's start, then in the first order's one INSERT: the welcome's exit signal and the follow-up.
    assert [(action, workflow_id.split("-")[1]) for action, workflow_id in rows] == [
        ("start_once", "welcome"),
        ("signal", "welcome"),
        ("start_once", "first_purchase"),
    ]
    async with counting(engine) as second:
        await _order(warm_shop, member_id)
    _expect(second, request=11, outbox_inserts=1, delivered=True)


async def test_a_behaviour_event_that_no_journey_hears_costs_seven_statements_and_no_delivery(
    warm_shop: ApiClient, engine: AsyncEngine
) -> None:
    member_id = await _signup(warm_shop)
    # The member (locked), the event row, the journeys, the rules' cache key, then the built-in award: its claim,
    # its credit and its result. No journey listens for a check-in: nothing for Temporal, no delivery.
    async with counting(engine) as sent:
        await _check_in(warm_shop, member_id)
    # Rules of other tests share the database; a tag action of one that fires for everyone adds its UPDATE at
    # the flush (one for all tag actions: tests/rules/test_rules_scale.py pins that side).
    sent.statements = sent.without("UPDATE members SET tags")
    _expect(sent, request=7, outbox_inserts=0, delivered=False)
