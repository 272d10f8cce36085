"""The send window a crash can hit: before the hand-over, which is after the body and before the line that ends
DATA (the retry sends, once), a zombie that lost its claim (sends nothing), after DATA (outcome unknown, not
resent), and the resend ops may then ask for."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import aiosmtplib
import httpx
import pytest
from sqlalchemy import select
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.messaging import MessagingActivities
from core.settings import Settings
from models import AuditEntry, Message
from services.messaging import UNKNOWN_OUTCOME
from services.messaging.providers import (
    HandOver,
    LogProvider,
    OutgoingEmail,
    Providers,
    Receipt,
    SmtpEmailProvider,
    message_id_header,
    no_record,
)
from services.messaging.service import MASKED_CODE
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.messaging import Sessions, SmtpSink
from tests.support.messaging import message_row as _row
from tests.support.messaging import messaging_activities as _activities
from tests.support.messaging import new_member as _member
from tests.support.messaging import send_input as _send
from tests.support.messaging_workflows import SendOnceWorkflow
from tests.support.waiting import eventually

_RETRY = RetryPolicy(maximum_attempts=5)


class DiesBeforeTerminator(SmtpEmailProvider):
    """Real SMTP, but the first `deaths` sends die at the hand-over point, after DATA's 354 and the whole body
    and before the line that ends it, the way a worker SIGKILLed there does: the connection drops, so the
    server discards the unterminated message."""

    def __init__(self, settings: Settings, deaths: int = 1) -> None:
        super().__init__(settings.messaging)
        self.deaths = deaths

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
        async def die() -> None:
            raise RuntimeError("worker killed before the end of DATA")

        dying = self.deaths > 0
        self.deaths -= 1
        return await super().send_email(email, die if dying else before_hand_over)


class StallsBeforeTerminator(SmtpEmailProvider):
    """Real SMTP that stops at the hand-over point (body written, no terminator) until `go` is set: an attempt
    that outlived its timeout."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.messaging)
        self.reached, self.go = asyncio.Event(), asyncio.Event()

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
        async def stall() -> None:
            self.reached.set()
            await self.go.wait()
            await before_hand_over()

        return await super().send_email(email, stall)


async def _cut_after(sink: SmtpSink, before: int) -> None:
    """Until the sink has seen one more DATA cut off before its terminating line."""

    async def cut() -> bool:
        return sink.cut_during_data > before

    await eventually(cut, timeout=10, what="the sink to see the DATA connection drop")


def _attempt(number: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=number, retry_policy=_RETRY)
    return env


def _with(sessions: Sessions, settings: Settings, email: SmtpEmailProvider) -> MessagingActivities:
    return _activities(sessions, settings, providers=Providers(email=email, sms=LogProvider()))


async def test_a_crash_after_the_body_and_before_its_terminator_is_sent_once_by_the_retry(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop, locale="en")
    inp = _send(member["id"])
    cuts = smtp_sink.cut_during_data
    with pytest.raises(RuntimeError, match="before the end of DATA"):
        await _attempt(1).run(_with(sessions, settings, DiesBeforeTerminator(settings)).send, inp)
    await _cut_after(smtp_sink, cuts)  # the server was reading the body when the connection went
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.claimed_by) == ("queued", "test-run/test#1")  # claimed, never handed over
    assert (smtp_sink.recipients.count(member["email"]), smtp_sink.to(member["email"])) == (1, [])
    result = await _attempt(2).run(_activities(sessions, settings).send, inp)
    assert result.status == "sent"
    assert len(smtp_sink.to(member["email"])) == 1
    assert smtp_sink.cut_during_data == cuts + 1
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.claimed_by, str(row.id)) == ("sent", "test-run/test#2", result.message_id)


async def test_through_temporals_retry_a_send_that_died_before_the_end_of_data_arrives_once(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    member = await _member(shop, locale="en")  # Shanghai, at noon on the activities' clock
    activities = _with(sessions, settings, DiesBeforeTerminator(settings, deaths=2))
    inp = _send(member["id"])
    async with (
        Worker(temporal_env.client, task_queue=task_queue, workflows=[SendOnceWorkflow]),
        Worker(temporal_env.client, task_queue=f"{task_queue}-email", activities=[activities.send]),
    ):
        handle = await temporal_env.client.start_workflow(
            SendOnceWorkflow.run, inp, id=f"send-{uuid.uuid4()}", task_queue=task_queue
        )
        outcome = await handle.result()
    assert outcome.status == "sent"
    assert len(smtp_sink.to(member["email"])) == 1
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert row.claimed_by is not None
    assert row.claimed_by.endswith("#3")  # the third attempt took the claim over and sent it


async def test_a_zombie_attempt_that_lost_its_claim_hands_nothing_over(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop, locale="en")
    inp = _send(member["id"])
    stalled = StallsBeforeTerminator(settings)
    cuts = smtp_sink.cut_during_data
    zombie = asyncio.create_task(_attempt(1).run(_with(sessions, settings, stalled).send, inp))
    await asyncio.wait_for(stalled.reached.wait(), timeout=10)
    assert smtp_sink.recipients.count(member["email"]) == 1  # the hand-over point: the body is in, no terminator
    assert smtp_sink.to(member["email"]) == []
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.claimed_by) == ("queued", "test-run/test#1")
    retried = await _attempt(2).run(_activities(sessions, settings).send, inp)
    assert retried.status == "sent"
    stalled.go.set()
    with pytest.raises(ApplicationError) as lost:
        await zombie
    assert lost.value.type == "ClaimLost"
    await _cut_after(smtp_sink, cuts)  # the zombie dropped its DATA unterminated
    assert len(smtp_sink.to(member["email"])) == 1
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.claimed_by) == ("sent", "test-run/test#2")


async def test_a_crash_after_data_is_unknown_not_resent_and_ops_can_resend_it_once(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    make_key: KeyMaker,
    http: httpx.AsyncClient,
) -> None:
    member = await _member(shop, locale="en", email=f"drop-{uuid.uuid4().hex[:10]}@example.com")
    inp = _send(member["id"])
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):  # cut before the server's reply to DATA
        await _attempt(1).run(_activities(sessions, settings).send, inp)
    result = await _attempt(2).run(_activities(sessions, settings).send, inp)
    assert (result.status, result.reason) == ("failed", UNKNOWN_OUTCOME)
    assert (await _attempt(3).run(_activities(sessions, settings).send, inp)).status == "failed"
    assert len(smtp_sink.to(member["email"])) == 1  # the server had it; nobody sent it again

    ops = ApiClient(http, await make_key(Role.OPS))
    listed = await ops.get("/api/v1/messages", params={"member_id": member["id"], "unknown_outcome": "true"})
    assert [m["id"] for m in listed.json()["items"]] == [result.message_id]
    marketer = ApiClient(http, await make_key(Role.MARKETER))
    assert_error(await marketer.post(f"/api/v1/messages/{result.message_id}/resend"), 403)

    resent = await ops.post(f"/api/v1/messages/{result.message_id}/resend")
    assert resent.status_code == 200, resent.text
    assert (resent.json()["status"], resent.json()["provider"]) == ("sent", "smtp")
    first, second = smtp_sink.to(member["email"])
    assert first["Message-ID"] == second["Message-ID"] == message_id_header(inp.message_key, "hello@teahouse.example")
    assert first["Subject"] == second["Subject"]
    texts = [mail.get_body(("plain",)) for mail in (first, second)]
    assert texts[0] is not None
    assert texts[1] is not None
    assert texts[0].get_content() == texts[1].get_content()
    assert first["List-Unsubscribe"] == second["List-Unsubscribe"]

    again = await ops.post(f"/api/v1/messages/{result.message_id}/resend")
    assert_error(again, 409, "message_not_resendable")
    assert len(smtp_sink.to(member["email"])) == 2
    assert_error(await ops.post(f"/api/v1/messages/{uuid.uuid4()}/resend"), 404, "message_not_found")
    async with sessions() as session:
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.target_id == result.message_id))).scalars()
        assert [(a.action, a.details["status"]) for a in audited] == [("message.resend", "failed")]
    listed = await ops.get("/api/v1/messages", params={"member_id": member["id"], "unknown_outcome": "true"})
    assert listed.json()["items"] == []


async def test_a_resend_the_provider_does_not_take_changes_nothing(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    make_key: KeyMaker,
    http: httpx.AsyncClient,
) -> None:
    """The unknown outcome comes from a crash past the hand-over (the log provider, which a `busy-` address
    does not trouble); the resend then goes to the SMTP sink, which answers 451 for that address."""
    member = await _member(shop, locale="en", email=f"busy-{uuid.uuid4().hex[:10]}@example.com")
    inp = _send(member["id"])

    class Crashes(SmtpEmailProvider):
        async def send_email(self, _email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
            await before_hand_over()
            raise ConnectionResetError("connection lost after DATA")

    with pytest.raises(ConnectionResetError):
        await _attempt(1).run(_with(sessions, settings, Crashes(settings.messaging)).send, inp)
    result = await _attempt(2).run(_activities(sessions, settings).send, inp)
    assert result.reason == UNKNOWN_OUTCOME
    ops = ApiClient(http, await make_key(Role.OPS))
    refused = await ops.post(f"/api/v1/messages/{result.message_id}/resend")
    assert_error(refused, 503, "provider_unavailable")
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.reason) == ("failed", UNKNOWN_OUTCOME)  # as it was: it can be resent later
    assert smtp_sink.to(member["email"]) == []


async def test_a_sign_in_code_the_log_blanked_is_not_resent(
    shop: ApiClient, sessions: Sessions, make_key: KeyMaker, http: httpx.AsyncClient
) -> None:
    """The message log keeps a portal sign-in code masked, so a resend would carry no code: 409, nothing changes."""
    member = await _member(shop, locale="en")
    async with sessions() as session:
        message = Message(
            message_key=f"test-{uuid.uuid4()}:portal_sign_in",
            member_id=uuid.UUID(member["id"]),
            channel="email",
            template="portal_sign_in",
            locale="en",
            category="transactional",
            status="failed",
            reason=UNKNOWN_OUTCOME,
            subject="Your sign-in code",
            body=f"Your code is {MASKED_CODE}.",
        )
        session.add(message)
        await session.commit()
    ops = ApiClient(http, await make_key(Role.OPS))
    assert_error(await ops.post(f"/api/v1/messages/{message.id}/resend"), 409, "message_not_resendable")
    row = await _row(sessions, message.message_key)
    assert row is not None
    assert (row.status, row.reason) == ("failed", UNKNOWN_OUTCOME)
