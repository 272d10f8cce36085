"""A closed ticket sends its survey, on the time-skipping test server: the ticket is closed, the survey delay
passes, the ServiceTicket workflow's survey_due activity writes the `ticket_surveys_due` row and in the same
transaction sends the built-in CSAT survey (settings.care.ticket_survey) and marks the row picked up; the
invitation arrives in the SMTP sink, a detractor's answer on the portal page creates the callback task. A retried
activity sends nothing twice; a survey that is missing, inactive or switched off sends nothing and says why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import StaffTask, SurveySend, TicketSurveyDue
from services import care
from services.care import steps
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import portal_member
from tests.support.surveys import link_token, nps_body
from tests.support.tickets import new_queue, open_ticket, routed
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping


async def _due_rows(sessions: Sessions, ticket_id: str) -> list[TicketSurveyDue]:
    async with sessions() as session:
        stmt = (
            select(TicketSurveyDue)
            .where(TicketSurveyDue.ticket_id == uuid.UUID(ticket_id))
            .order_by(TicketSurveyDue.closing)
        )
        return list((await session.execute(stmt)).scalars())


async def _sends(sessions: Sessions, member_id: str) -> list[SurveySend]:
    async with sessions() as session:
        stmt = select(SurveySend).where(SurveySend.member_id == uuid.UUID(member_id))
        return list((await session.execute(stmt)).scalars())


async def _callbacks(sessions: Sessions, member_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(StaffTask.member_id == uuid.UUID(member_id), StaffTask.title == "Call back")
        return int((await session.execute(stmt)).scalar_one())


async def test_a_closed_ticket_sends_its_survey_and_a_detractor_gets_a_callback(
    http: httpx.AsyncClient,
    shop: ApiClient,
    admin: ApiClient,
    workers: list[Worker],
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
) -> None:
    assert settings.care.ticket_survey == care.TICKET_CSAT  # the default: the built-in CSAT survey
    queue = await new_queue(admin)
    member = await portal_member(shop, timezone="UTC")
    ticket = await open_ticket(shop, member["id"], queue["code"])
    await routed(temporal_env.client, ticket["id"])
    closed = await admin.post(f"/api/v1/tickets/{ticket['id']}/close")
    assert closed.status_code == 200, closed.text
    assert await _sends(sessions, member["id"]) == []  # nothing before the delay

    await temporal_env.sleep(timedelta(hours=settings.care.survey_delay_hours + 1))
    rows = await value_when(
        lambda: _due_rows(sessions, ticket["id"]), lambda found: len(found) == 1, what="the survey due row"
    )
    [send] = await _sends(sessions, member["id"])
    assert (send.source, send.source_id, send.channel) == ("ticket", ticket["id"], "email")
    assert (rows[0].survey_send_id, rows[0].skipped) == (send.id, None)
    assert rows[0].picked_up_at is not None
    async with sessions() as session:
        waiting = {row.ticket_id for row in await steps.surveys_due(session, limit=10_000)}
    assert uuid.UUID(ticket["id"]) not in waiting  # picked up as it was written

    # The invitation's workflow (awaiting it lets the test server skip any wait the messaging layer makes).
    invite = temporal_env.client.get_workflow_handle(contracts.survey_invite_workflow_id(send.id))
    assert (await invite.result())["result"] == "sent"
    messages = await value_when(
        lambda: _received(smtp_sink, member["email"]),
        lambda found: any("/portal/s/" in _text(m) for m in found),
        what="the survey invitation",
    )
    token = link_token(next(_text(m) for m in messages if "/portal/s/" in _text(m)))
    page = await http.get(f"/portal/s/{token}")
    assert page.status_code == 200
    assert "How satisfied were you with how we handled your request?" in page.text
    answered = await http.post(f"/portal/s/{token}", data={"score": "1", "comment": "Nobody called me back"})
    assert answered.status_code == 303, answered.text
    await value_when(lambda: _callbacks(sessions, member["id"]), lambda n: n == 1, what="the callback task")

    # A retried survey_due activity finds the row and sends nothing again.
    async with sessions() as session:
        await steps.survey_due(
            session,
            uuid.UUID(ticket["id"]),
            1,
            datetime.now(UTC),
            survey_key=care.TICKET_CSAT,
            task_queue=settings.temporal.task_queue,
        )
        await session.commit()
    assert [s.id for s in await _sends(sessions, member["id"])] == [send.id]
    assert await _callbacks(sessions, member["id"]) == 1


async def _received(sink: SmtpSink, address: str) -> list[Any]:
    return sink.to(address)


def _text(message: Any) -> str:
    body = message.get_body(("plain",))
    return "" if body is None else str(body.get_content())


async def test_a_survey_that_cannot_be_sent_is_recorded_and_nothing_goes_out(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    inactive = await marketer.post("/api/v1/surveys", json=nps_body(active=False))
    assert inactive.status_code == 201, inactive.text
    queue = await new_queue(admin)
    member = await portal_member(shop)
    ticket = await open_ticket(shop, member["id"], queue["code"])  # its workflow never runs: no worker here
    ticket_id = uuid.UUID(ticket["id"])
    missing = f"gone_{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC)
    async with sessions() as session:
        for closing, key in ((1, missing), (2, inactive.json()["key"]), (3, "")):
            await steps.survey_due(
                session, ticket_id, closing, at, survey_key=key, task_queue=settings.temporal.task_queue
            )
        await session.commit()
    rows = await _due_rows(sessions, ticket["id"])
    assert [(r.closing, r.skipped, r.survey_send_id) for r in rows] == [
        (1, "survey_not_found", None),
        (2, "survey_inactive", None),
        (3, "disabled", None),
    ]
    assert all(r.picked_up_at is not None for r in rows)
    assert await _sends(sessions, member["id"]) == []
