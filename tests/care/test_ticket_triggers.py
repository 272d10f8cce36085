"""`ticket_opened` and `ticket_closed` reach rules and journeys: the ServiceTicket workflow's activities record
each as the member's event once (per ticket, per closing), carrying the ticket's id only, and a retried
activity triggers nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import MemberEvent, RuleFiring
from services.care import steps, tickets, triggers
from tests.support.helpers import ApiClient, create_member
from tests.support.loyalty import points_of
from tests.support.messaging import Sessions
from tests.support.tickets import new_queue, open_ticket, routed
from tests.support.waiting import value_when

pytestmark = pytest.mark.time_skipping


class Reactions:
    """A rule per ticket trigger and a journey on `ticket_closed`, each for members with one tag only (rules and
    journeys are global rows: other tests' tickets must not fire them); disabled again afterwards."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.rule_ids: list[str] = []
        self.journey_kind = f"after_ticket_{tag}"

    def condition(self) -> dict[str, Any]:
        return {"field": "tags", "op": "contains", "value": self.tag}


@pytest_asyncio.fixture
async def reactions(marketer: ApiClient) -> AsyncIterator[Reactions]:
    made = Reactions(f"tt{uuid.uuid4().hex[:10]}")
    for trigger, action in (
        ("ticket_opened", {"tag": {"add": [f"{made.tag}_opened"]}}),
        ("ticket_closed", {"grant_points": {"points": 25, "reason": "sorry for the trouble"}}),
    ):
        rule = {
            "name": f"{trigger}_{made.tag}",
            "trigger": {"event": trigger},
            "conditions": {"all": [made.condition()]},
            "actions": [action],
        }
        created = await marketer.post("/api/v1/rules", json=rule)
        assert created.status_code == 201, created.text
        made.rule_ids.append(created.json()["id"])
    journey = {
        "kind": made.journey_kind,
        "name": "After a ticket",
        "trigger": {"event": "ticket_closed", "condition": made.condition()},
        "steps": [{"id": "mark", "tag": {"add": [f"{made.tag}_journey"]}}, {"id": "done", "exit": {}}],
    }
    created = await marketer.post("/api/v1/journeys", json=journey)
    assert created.status_code == 201, created.text
    try:
        yield made
    finally:
        for rule_id in made.rule_ids:
            assert (await marketer.post(f"/api/v1/rules/{rule_id}/disable")).status_code == 200
        assert (await marketer.post(f"/api/v1/journeys/{made.journey_kind}/disable")).status_code == 200


async def _ticket_events(sessions: Sessions, member_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        stmt = (
            select(MemberEvent)
            .where(MemberEvent.member_id == uuid.UUID(member_id), MemberEvent.type.like("ticket_%"))
            .order_by(MemberEvent.occurred_at, MemberEvent.id)
        )
        return [(e.type, e.properties) for e in (await session.execute(stmt)).scalars()]


async def _tags(client: ApiClient, member_id: str) -> list[str]:
    tags: list[str] = (await client.get(f"/api/v1/members/{member_id}")).json()["tags"]
    return tags


async def test_opening_and_closing_a_ticket_fire_rules_and_journeys_once(
    shop: ApiClient,
    admin: ApiClient,
    reactions: Reactions,
    workers: list[Worker],
    sessions: Sessions,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
) -> None:
    tag = reactions.tag
    queue = await new_queue(admin)
    member = await create_member(shop, tags=[tag])
    before = (await points_of(shop, member["id"]))["posted"]
    ticket = await open_ticket(shop, member["id"], queue["code"])
    await routed(temporal_env.client, ticket["id"])
    await value_when(lambda: _tags(shop, member["id"]), lambda tags: f"{tag}_opened" in tags, what="ticket_opened")
    assert (await points_of(shop, member["id"]))["posted"] == before  # closing, not opening, grants the points

    closed = await admin.post(f"/api/v1/tickets/{ticket['id']}/close")
    assert closed.status_code == 200, closed.text
    await value_when(lambda: _tags(shop, member["id"]), lambda tags: f"{tag}_journey" in tags, what="the journey")
    assert (await points_of(shop, member["id"]))["posted"] == before + 25  # in the close's own transaction
    assert await _ticket_events(sessions, member["id"]) == [
        ("ticket_opened", {"ticket_id": ticket["id"]}),
        ("ticket_closed", {"ticket_id": ticket["id"]}),
    ]

    # A retried activity: the ticket's steps again with the same keys trigger nothing a second time.
    ticket_id = uuid.UUID(ticket["id"])
    async with sessions() as session:
        row = await tickets.get(session, ticket_id)
        await steps.route(session, ticket_id, datetime.now(UTC), task_queue=settings.temporal.task_queue)
        for trigger, key in (
            (triggers.TICKET_OPENED, triggers.opened_key(row)),
            (triggers.TICKET_CLOSED, triggers.closed_key(row)),
        ):
            assert not await triggers.emit(session, row, trigger, key, datetime.now(UTC), task_queue="unused")
        await session.commit()
    assert len(await _ticket_events(sessions, member["id"])) == 2

    # Each closing is its own occurrence: reopened and closed again, the rule pays a second time.
    assert (await admin.post(f"/api/v1/tickets/{ticket['id']}/reopen")).status_code == 200
    assert (await admin.post(f"/api/v1/tickets/{ticket['id']}/close")).status_code == 200
    await value_when(
        lambda: points_of(shop, member["id"]), lambda p: p["posted"] == before + 50, what="the second close"
    )
    async with sessions() as session:
        fired = select(RuleFiring.event_key).where(RuleFiring.member_id == uuid.UUID(member["id"]))
        keys = sorted(k for k in (await session.execute(fired)).scalars() if k.startswith("ticket:"))
    assert keys == [f"ticket:{ticket_id}:closed:1", f"ticket:{ticket_id}:closed:2", f"ticket:{ticket_id}:opened"]


async def test_an_erased_members_ticket_triggers_nothing(
    shop: ApiClient, admin: ApiClient, workers: list[Worker], sessions: Sessions, temporal_env: WorkflowEnvironment
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop)
    ticket = await open_ticket(shop, member["id"], queue["code"])
    await routed(temporal_env.client, ticket["id"])
    erased = await admin.delete(f"/api/v1/members/{member['id']}", json={"reason": "asked us by letter"})
    assert erased.status_code == 200, erased.text
    recorded = await _ticket_events(sessions, member["id"])
    async with sessions() as session:
        row = await tickets.get(session, uuid.UUID(ticket["id"]))
        key = f"ticket:{row.id}:test"
        emitted = await triggers.emit(session, row, triggers.TICKET_OPENED, key, datetime.now(UTC), task_queue="x")
        await session.commit()
    assert emitted is False
    assert await _ticket_events(sessions, member["id"]) == recorded
