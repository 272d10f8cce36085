"""Service tickets end to end on the time-skipping test server: the API opens a ticket, its ServiceTicket
workflow confirms it by email (read from the SMTP sink), routes it as a staff task, flags the missed SLA and
gives the queue's lead a task; replies, status changes, assignment, close and reopen are validated updates."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import Message, TicketSurveyDue
from tests.support.helpers import ApiClient, assert_error, create_member
from tests.support.messaging import Sessions, SmtpSink
from tests.support.temporal import HISTORIES
from tests.support.tickets import member_tasks, new_queue, open_ticket, routed, ticket_lines, ticket_status
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


async def _confirmations(sessions: Sessions, member_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(
            Message.member_id == uuid.UUID(member_id), Message.template == "ticket_confirmation"
        )
        return int((await session.execute(stmt)).scalar_one())


async def test_open_confirms_routes_and_escalates_a_missed_sla(
    shop: ApiClient,
    admin: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop, locale="en", timezone="UTC")
    headers = {"Idempotency-Key": f"helpdesk-{uuid.uuid4()}"}
    body = {
        "member_id": member["id"],
        "channel": "email",
        "category": "delivery",
        "priority": "urgent",
        "subject": "Order never arrived",
        "description": "Ordered a week ago, tracking shows nothing.",
        "queue": queue["code"],
    }
    opened = await shop.post("/api/v1/tickets", json=body, headers=headers)
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    replayed = await shop.post("/api/v1/tickets", json=body, headers=headers)
    assert (replayed.status_code, replayed.json()["id"]) == (201, ticket["id"])
    assert replayed.headers["Idempotent-Replayed"] == "true"
    await routed(temporal_env.client, ticket["id"])

    reference = ticket["id"].replace("-", "")[-8:].upper()
    mails = await value_when(
        lambda: _mails(smtp_sink, member["email"], reference), bool, what="the ticket confirmation"
    )
    (mail,) = mails
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    assert "within 1 hours" in text.get_content()
    assert "within 4 hours" in text.get_content()
    assert "Order never arrived" not in mail.as_string()  # the ticket's text never reached the workflow
    assert await _confirmations(sessions, member["id"]) == 1

    (assignment,) = [t for t in await member_tasks(sessions, member["id"]) if reference in t.title]
    assert (assignment.assignee_role, assignment.assignee) == ("ops", None)
    description = await temporal_env.client.get_workflow_handle(f"ticket-{ticket['id']}").describe()
    assert description.typed_search_attributes.get(contracts.TICKET_ID) == ticket["id"]
    assert description.typed_search_attributes.get(contracts.MEMBER_ID) == member["id"]

    await temporal_env.sleep(timedelta(hours=1, minutes=5))  # past the urgent first-response target
    flagged = await value_when(
        lambda: _ticket(shop, ticket["id"]), lambda t: t["breached_at"] is not None, what="the breach flag"
    )
    assert flagged["breach"] == "first_response"
    assert [line["kind"] for line in flagged["history"]][-1] == "breached"
    lead_tasks = [t for t in await member_tasks(sessions, member["id"]) if t.assignee == queue["lead"]]
    assert len(lead_tasks) == 1
    assert lead_tasks[0].title.startswith(f"SLA missed (first response): ticket {reference}")
    breached = (await shop.get("/api/v1/tickets", params={"queue": queue["code"], "breached": "true"})).json()
    assert [t["id"] for t in breached["items"]] == [ticket["id"]]
    assert (await ticket_status(temporal_env.client, ticket["id"])).breaches == ["first_response"]
    assert await _confirmations(sessions, member["id"]) == 1


async def _mails(sink: SmtpSink, address: str, reference: str) -> list[object]:
    return [m for m in sink.to(address) if reference in str(m["Subject"])]


async def _ticket(client: ApiClient, ticket_id: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


async def test_replies_status_assignment_close_and_reopen_are_validated_updates(
    shop: ApiClient,
    admin: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop, locale="en", timezone="UTC")
    ticket = await open_ticket(shop, member["id"], queue["code"])
    tid = ticket["id"]
    await routed(temporal_env.client, tid)
    url = f"/api/v1/tickets/{tid}"

    replied = await shop.post(f"{url}/replies", json={"body": "So sorry! A new tin is on its way."})
    assert replied.status_code == 200, replied.text
    assert replied.json()["first_response_at"] is not None
    member_reply = await shop.post(f"{url}/replies", json={"body": "Thank you!", "from_member": True})
    assert member_reply.status_code == 200, member_reply.text

    before = await _ticket(shop, tid)
    assert_error(await shop.post(f"{url}/status", json={"status": "closed"}), 422, "validation_error")
    assert_error(await shop.post(f"{url}/status", json={"status": "solved"}), 422, "validation_error")
    assert_error(await shop.post(f"{url}/status", json={"status": "open"}), 409, "no_change")
    assert_error(await shop.post(f"{url}/reopen"), 409, "ticket_not_closed")
    assert_error(await shop.post(f"{url}/replies", json={"body": "   "}), 422, "validation_error")
    assert await _ticket(shop, tid) == before  # refused commands changed nothing

    waiting = await shop.post(f"{url}/status", json={"status": "waiting_on_member"})
    assert (waiting.status_code, waiting.json()["status"]) == (200, "waiting_on_member")
    assigned = await shop.post(f"{url}/assign", json={"assignee": "alice"})
    assert (assigned.status_code, assigned.json()["assignee"]) == (200, "alice")
    assert [t.assignee for t in await member_tasks(sessions, member["id"]) if t.assignee == "alice"] == ["alice"]

    closed = await shop.post(f"{url}/close")
    assert (closed.status_code, closed.json()["status"], closed.json()["closings"]) == (200, "closed", 1)
    assert closed.json()["reopen_until"] is not None
    assert_error(await shop.post(f"{url}/close"), 409, "ticket_closed")
    assert_error(await shop.post(f"{url}/replies", json={"body": "One more thing"}), 409, "ticket_closed")
    assert all(line.kind != "draft_reply" for line in await ticket_lines(sessions, tid))  # the refused reply went

    reopened = await shop.post(f"{url}/reopen")
    assert (reopened.status_code, reopened.json()["status"]) == (200, "open")
    again = await shop.post(f"{url}/close")
    assert (again.status_code, again.json()["closings"]) == (200, 2)

    await temporal_env.sleep(timedelta(hours=25))  # past the survey delay
    await value_when(lambda: _surveys(sessions, tid), lambda rows: rows == [2], what="the survey due row")
    await temporal_env.sleep(timedelta(days=7))  # past the reopen window: the run ends
    handle = temporal_env.client.get_workflow_handle(
        contracts.ticket_workflow_id(tid), result_type=contracts.TicketStatus
    )
    outcome = await handle.result()
    assert outcome.status == "done"
    assert_error(await shop.post(f"{url}/reopen"), 409, "reopen_window_closed")

    detail = await _ticket(shop, tid)
    kinds = [line["kind"] for line in detail["history"]]  # type: ignore[union-attr]
    assert kinds == [
        "opened",
        "assigned",
        "reply",
        "reply",
        "status",
        "assigned",
        "closed",
        "reopened",
        "closed",
        "survey_due",
    ]
    history = (await handle.fetch_history()).to_json()
    for text in ("Parcel arrived damaged", "dented", "A new tin", "Thank you!", member["email"]):
        assert text not in history  # ids only in Temporal
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        (HISTORIES / "service_ticket.json").write_text(history)


async def _surveys(sessions: Sessions, ticket_id: str) -> list[int]:
    async with sessions() as session:
        stmt = select(TicketSurveyDue.closing).where(TicketSurveyDue.ticket_id == uuid.UUID(ticket_id))
        return list((await session.execute(stmt)).scalars())
