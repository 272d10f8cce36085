"""The tickets API refuses bad input with a precise 4xx in the error envelope and changes nothing; a ticket's
texts are personal data: erasure redacts them and export holds them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import Ticket, TicketEvent
from tests.support.helpers import ApiClient, assert_error, create_member
from tests.support.messaging import Sessions
from tests.support.tickets import new_queue, open_ticket, routed, ticket_body


async def _tickets_of(sessions: Sessions, member_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Ticket).where(Ticket.member_id == uuid.UUID(member_id))
        return int((await session.execute(stmt)).scalar_one())


async def test_bad_ticket_input_is_refused_in_the_envelope_and_nothing_is_stored(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop)
    body = ticket_body(member["id"], queue["code"])
    unauthenticated = await shop.http.post("/api/v1/tickets", json=body)
    assert_error(unauthenticated, 401, "missing_api_key")
    assert_error(
        await shop.post("/api/v1/tickets", json={**body, "member_id": str(uuid.uuid4())}), 404, "member_not_found"
    )
    unknown_queue = assert_error(
        await shop.post("/api/v1/tickets", json={**body, "queue": "nope"}), 422, "queue_not_found"
    )
    assert unknown_queue["details"] == [{"field": "queue", "message": "no queue has the code 'nope'"}]
    for bad in (
        {"priority": "asap"},
        {"channel": "pigeon"},
        {"subject": ""},
        {"description": "x" * 5001},
        {"category": "Not A Code"},
        {"surprise": True},
    ):
        error = assert_error(await shop.post("/api/v1/tickets", json={**body, **bad}), 422, "validation_error")
        assert error["details"], bad
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert (await shop.post("/api/v1/tickets", json=body, headers=key)).status_code == 201
    changed = await shop.post("/api/v1/tickets", json={**body, "subject": "Another"}, headers=key)
    assert_error(changed, 409)
    assert await _tickets_of(sessions, member["id"]) == 1

    assert_error(await shop.get(f"/api/v1/tickets/{uuid.uuid4()}"), 404, "ticket_not_found")
    assert_error(await shop.get("/api/v1/tickets", params={"status": "lost"}), 422, "validation_error")
    assert_error(await shop.get("/api/v1/tickets", params={"cursor": "edited"}), 400, "invalid_cursor")
    assert_error(await shop.post(f"/api/v1/tickets/{uuid.uuid4()}/close"), 404, "ticket_not_found")
    assert_error(await shop.post(f"/api/v1/tickets/{uuid.uuid4()}/assign", json={"assignee": ""}), 422)

    assert_error(await marketer.post("/api/v1/ticket-queues", json={"code": "x", "name": "X", "lead": "y"}), 403)
    assert_error(await admin.post("/api/v1/ticket-queues", json={**queue, "id": None}), 422)
    duplicate = {"code": queue["code"], "name": "Again", "lead": "someone"}
    assert_error(await admin.post("/api/v1/ticket-queues", json=duplicate), 409, "queue_exists")
    bad_role = {"code": f"q-{uuid.uuid4().hex[:8]}", "name": "Shop", "lead": "x", "role": "integration"}
    assert_error(await admin.post("/api/v1/ticket-queues", json=bad_role), 422, "validation_error")


@pytest.mark.time_skipping
async def test_erasure_redacts_ticket_texts_and_export_holds_them(
    shop: ApiClient,
    admin: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop, locale="en")
    ticket = await open_ticket(shop, member["id"], queue["code"], subject="Refund for order 88", description="Call me")
    await routed(temporal_env.client, ticket["id"])
    reply = await shop.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "Refund issued today"})
    assert reply.status_code == 200, reply.text

    exported = (await admin.get(f"/api/v1/members/{member['id']}/export")).json()["tables"]
    assert [t["subject"] for t in exported["tickets"]] == ["Refund for order 88"]
    assert "Refund issued today" in [line["body"] for line in exported["ticket_events"]]

    erased = await admin.request("DELETE", f"/api/v1/members/{member['id']}", json={"reason": "the member asked"})
    assert erased.status_code == 200, erased.text
    async with sessions() as session:
        row = await session.get(Ticket, uuid.UUID(ticket["id"]))
        assert row is not None
        assert (row.subject, row.description, row.status) == ("[erased]", "[erased]", "open")
        bodies = await session.execute(select(TicketEvent.body).where(TicketEvent.ticket_id == row.id))
        assert set(bodies.scalars()) <= {None, "[erased]"}
    assert_error(
        await shop.post("/api/v1/tickets", json=ticket_body(member["id"], queue["code"])), 409, "member_erased"
    )
    refused = await shop.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "More details"})
    assert_error(refused, 409, "member_erased")
