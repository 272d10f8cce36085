"""Surveys end to end on the real stack: a journey's send_survey step (Temporal dev server, the real worker)
records the send and its SurveyInviteWorkflow sends the invitation; the link is read from the SMTP sink and
answered as a detractor on the portal page; the answer is stored, `survey_answered` reaches the journeys and the
rules, and the built-in rule creates the account manager's "Call back" task. A second answer, a tampered or
expired link, and invalid answers change nothing."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select, update
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from models import Journey, MemberEvent, StaffTask, SurveyAnswer, SurveySend, TemporalOutbox
from services.messaging.service import SURVEY_LINK_PURPOSE
from services.platform import signed
from tests.support.helpers import ApiClient, assert_error
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import SECRET, portal_member
from tests.support.surveys import link_token, nps_body
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from workflows import contracts


@pytest_asyncio.fixture
async def nps(marketer: ApiClient) -> dict[str, Any]:
    made = await marketer.post("/api/v1/surveys", json=nps_body())
    assert made.status_code == 201, made.text
    survey: dict[str, Any] = made.json()
    return survey


@pytest_asyncio.fixture
async def asking_journey(marketer: ApiClient, sessions: Sessions, nps: dict[str, Any]) -> AsyncIterator[str]:
    """A journey of this test's own with no trigger (it starts only when the test starts it): ask, then end."""
    kind = f"ask_{uuid.uuid4().hex[:8]}"
    definition = {
        "kind": kind,
        "name": "Ask how it went",
        "steps": [{"id": "ask", "send_survey": {"survey": nps["key"]}}, {"id": "done", "exit": {}}],
    }
    created = await marketer.post("/api/v1/journeys", json=definition)
    assert created.status_code == 201, created.text
    yield kind
    async with sessions() as session:
        await session.execute(update(Journey).where(Journey.kind == kind).values(enabled=False))
        await session.commit()


@pytest_asyncio.fixture
async def detractor_journey(marketer: ApiClient, sessions: Sessions, nps: dict[str, Any]) -> AsyncIterator[str]:
    """A journey triggered by survey_answered for this test's survey only, with a score of 6 or less."""
    kind = f"win_back_{uuid.uuid4().hex[:8]}"
    condition = {
        "all": [
            {"field": "event.survey", "op": "eq", "value": nps["key"]},
            {"field": "event.score", "op": "lte", "value": 6},
        ]
    }
    definition = {
        "kind": kind,
        "name": "Win back a detractor",
        "trigger": {"event": "survey_answered", "condition": condition},
        "steps": [{"id": "sorry", "tag": {"add": ["detractor"]}}],
    }
    created = await marketer.post("/api/v1/journeys", json=definition)
    assert created.status_code == 201, created.text
    yield kind
    async with sessions() as session:
        await session.execute(update(Journey).where(Journey.kind == kind).values(enabled=False))
        await session.commit()


async def _invitation(sink: SmtpSink, address: str) -> str:
    messages = await value_when(lambda: _received(sink, address), bool, what=f"a survey invitation to {address}")
    body = messages[-1].get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def _received(sink: SmtpSink, address: str) -> list[Any]:
    return sink.to(address)


async def _counts(sessions: Sessions, member_id: str) -> tuple[int, int, int]:
    """(answers, survey_answered events, Call back tasks) of the member."""
    member = uuid.UUID(member_id)
    async with sessions() as session:
        answers = await session.scalar(select(func.count()).where(SurveyAnswer.member_id == member))
        events = await session.scalar(
            select(func.count()).where(MemberEvent.member_id == member, MemberEvent.type == "survey_answered")
        )
        tasks = await session.scalar(
            select(func.count()).where(StaffTask.member_id == member, StaffTask.title == "Call back")
        )
    return int(answers or 0), int(events or 0), int(tasks or 0)


async def test_a_journey_sends_the_survey_and_a_detractor_gets_a_callback(
    http: httpx.AsyncClient,
    shop: ApiClient,
    workers: list[Worker],
    temporal: WorkflowEnvironment,
    settings: Settings,
    sessions: Sessions,
    smtp_sink: SmtpSink,
    nps: dict[str, Any],
    asking_journey: str,
    detractor_journey: str,
) -> None:
    # No marketing consent: the invitation is transactional email, which consent does not hold back.
    member = await portal_member(shop, consent={"email": False, "sms": False})
    start = contracts.journey_start(
        contracts.JourneyInput(member_id=member["id"], kind=asking_journey),
        task_queue=settings.temporal.task_queue,
        once=True,
    )
    journey = await start.start(temporal.client, result_type=contracts.JourneyOutcome)
    outcome = await journey.result()
    assert outcome.messages == ["ask:survey_sent"]

    text = await _invitation(smtp_sink, member["email"])
    token = link_token(text)
    async with sessions() as session:
        send = (await session.execute(select(SurveySend).where(SurveySend.member_id == uuid.UUID(member["id"])))).one()[
            0
        ]
    assert (send.source, send.channel, send.answered_at) == ("journey", "email", None)
    assert send.source_id.startswith(contracts.journey_workflow_id(asking_journey, member["id"]))

    page = await http.get(f"/portal/s/{token}")
    assert page.status_code == 200
    assert "How likely are you to recommend us to a friend?" in page.text
    assert 'name="score" value="10"' in page.text

    answered = await http.post(f"/portal/s/{token}", data={"score": "3", "comment": "The parcel came a week late"})
    assert answered.status_code == 303, answered.text
    thanks = await http.get(answered.headers["location"])
    assert "Your answer is saved" in thanks.text
    async with sessions() as session:
        row = (await session.execute(select(SurveyAnswer).where(SurveyAnswer.send_id == send.id))).scalar_one()
        event = (
            await session.execute(
                select(MemberEvent).where(
                    MemberEvent.member_id == uuid.UUID(member["id"]), MemberEvent.type == "survey_answered"
                )
            )
        ).scalar_one()
        task = (
            await session.execute(select(StaffTask).where(StaffTask.member_id == uuid.UUID(member["id"])))
        ).scalar_one()
        started = await session.scalar(
            select(func.count()).where(
                TemporalOutbox.workflow_id == contracts.journey_workflow_id(detractor_journey, member["id"])
            )
        )
    assert (row.score, row.comment, row.answers) == (3, "The parcel came a week late", {})
    assert event.properties == {"send_id": str(send.id), "survey": nps["key"], "kind": "nps", "score": 3}
    assert (task.title, task.assignee_role, task.status) == ("Call back", "account_manager", "open")
    assert started == 1  # the journey triggered by survey_answered with its score condition

    # Once per send: a second answer is a clear page and changes nothing.
    again = await http.post(f"/portal/s/{token}", data={"score": "10", "comment": "Actually fine"})
    assert again.status_code == 409
    assert "already answered" in again.text
    assert await _counts(sessions, member["id"]) == (1, 1, 1)
    reopened = await http.get(f"/portal/s/{token}")
    assert reopened.status_code == 200
    assert "already answered" in reopened.text

    # Histories hold ids only; the invitation's and the journey's are replayed by tests/workflows/test_replay.py.
    invite = temporal.client.get_workflow_handle(contracts.survey_invite_workflow_id(send.id))
    assert (await invite.result())["result"] == "sent"
    for handle, name in ((invite, "survey_invite"), (journey, "journey_send_survey")):
        recorded = await handle.fetch_history()
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
            (HISTORIES / f"{name}.json").write_text(recorded.to_json())
        history = json.dumps(recorded.to_json_dict())
        assert token not in history
        assert member["email"] not in history


async def test_a_tampered_or_expired_link_is_a_clear_page(
    http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions, nps: dict[str, Any]
) -> None:
    member = await portal_member(shop)
    send = await _send(sessions, nps["key"], member["id"])
    good = signed.sign_link(SECRET, send, SURVEY_LINK_PURPOSE, datetime.now(UTC) + timedelta(days=14))
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for token in (tampered, "not-a-token", "x" * 400):
        for response in (
            await http.get(f"/portal/s/{token}"),
            await http.post(f"/portal/s/{token}", data={"score": "9"}),
        ):
            assert response.status_code == 400
            assert "This link is not valid" in response.text
    # A portal sign-in link is no survey link, and a survey link signs nobody in.
    sign_in = signed.sign_link(SECRET, send, "sign_in", datetime.now(UTC) + timedelta(days=1))
    assert (await http.get(f"/portal/s/{sign_in}")).status_code == 400
    assert (await http.get(f"/portal/l/{good}")).status_code == 400
    expired = signed.sign_link(SECRET, send, SURVEY_LINK_PURPOSE, datetime.now(UTC) - timedelta(minutes=1))
    response = await http.post(f"/portal/s/{expired}", data={"score": "9"})
    assert response.status_code == 410
    assert "expired" in response.text
    assert await _counts(sessions, member["id"]) == (0, 0, 0)
    assert (await http.get(f"/portal/s/{good}")).status_code == 200


async def _send(sessions: Sessions, survey_key: str, member_id: str) -> uuid.UUID:
    """A send written through the service (as a ticket's close hands it over), committed."""
    from services import care

    async with sessions() as session:
        send = await care.send_survey(
            session, survey_key, uuid.UUID(member_id), source="ticket", source_id=str(uuid.uuid4()), task_queue="idle"
        )
        await session.commit()
        return send.id


async def test_the_same_origin_sends_once_and_bad_sends_are_refused(
    shop: ApiClient, marketer: ApiClient, sessions: Sessions, nps: dict[str, Any]
) -> None:
    from core.errors import Conflict, NotFound
    from services import care

    member = await portal_member(shop)
    ticket = str(uuid.uuid4())
    async with sessions() as session:
        first = await care.send_survey(session, nps["key"], uuid.UUID(member["id"]), source_id=ticket, task_queue="q")
        second = await care.send_survey(session, nps["key"], uuid.UUID(member["id"]), source_id=ticket, task_queue="q")
        await session.commit()
    assert first.id == second.id
    async with sessions() as session:
        starts = await session.scalar(
            select(func.count()).where(TemporalOutbox.workflow_id == contracts.survey_invite_workflow_id(first.id))
        )
    assert starts == 1
    assert (await marketer.patch(f"/api/v1/surveys/{nps['key']}", json={"active": False})).status_code == 200
    async with sessions() as session:
        for key, error in ((nps["key"], Conflict), ("no_such_survey", NotFound)):
            try:
                await care.send_survey(session, key, uuid.UUID(member["id"]), source_id="t", task_queue="q")
            except error:
                continue
            raise AssertionError(f"{key} was sent")
    assert_error(await marketer.delete(f"/api/v1/surveys/{nps['key']}"), 409, "survey_in_use")
