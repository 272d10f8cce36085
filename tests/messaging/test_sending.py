"""Messaging: exactly-once sends through retries (with a real SMTP sink), consent and unsubscribe links, SMS
STOP, quiet hours, the frequency cap, templates (locale fallback, editing, preview) and the message log."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.messaging import MessagingActivities, SendMessageInput, SendMessageResult, channel_task_queue
from core.settings import MessagingSettings, Settings
from devstack.embedded import free_port
from models import Message
from services.messaging import UNKNOWN_OUTCOME, quiet_hours_end, templates
from services.messaging.providers import (
    HttpSmsProvider,
    LogProvider,
    OutgoingEmail,
    OutgoingSms,
    ProviderError,
    Providers,
    Receipt,
    build_providers,
)
from services.messaging.templates import locale_candidates
from services.platform.api_keys import Role
from tests.conftest import KeyMaker
from tests.support.helpers import (
    ApiClient,
    assert_error,
    create_member,
    midday_zone,
    walk_pages,
)
from tests.support.messaging_workflows import SendOnceOutcome, SendOnceWorkflow
from worker import build_channel_workers

Sessions = async_sessionmaker[AsyncSession]
SECRET = "test-secret-key-for-unsubscribe-links"
# 12:00 in Asia/Shanghai, the members' default zone here: outside quiet hours.
NOON_SHANGHAI = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


# An SMTP server that keeps what it receives


@dataclass
class SmtpSink:
    """aiosmtpd handler: refuses `refuse-…` recipients for good and `busy-…` ones for now; keeps the rest."""

    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)

    async def handle_RCPT(  # aiosmtpd's hook names
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if address.startswith("refuse-"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy-"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """SMTP to the sink and a signing key, on this test's task queue."""
    messaging = MessagingSettings(
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_starttls=False,
        from_address="Tea House <hello@teahouse.example>",
        brand_name="Tea House",
        public_url="http://memberflow.test",
    )
    return settings.model_copy(update={"messaging": messaging, "secret_key": SecretStr(SECRET)})


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    async with sessions() as session:
        await templates.seed_builtin_templates(session)
        await session.commit()


def _activities(
    sessions: Sessions,
    settings: Settings,
    *,
    now: Callable[[], datetime] | None = lambda: NOON_SHANGHAI,
    providers: Providers | None = None,
    **messaging: Any,
) -> MessagingActivities:
    if messaging:
        settings = settings.model_copy(update={"messaging": settings.messaging.model_copy(update=messaging)})
    return MessagingActivities(sessions, providers or build_providers(settings.messaging), settings, now=now)


def _send(member_id: str, template: str = "welcome", **overrides: Any) -> SendMessageInput:
    values: dict[str, Any] = {
        "message_key": f"test-{uuid.uuid4()}:{template}",
        "member_id": member_id,
        "channel": "email",
        "template": template,
        "journey_kind": "test",
    }
    values.update(overrides)
    return SendMessageInput(**values)


async def _member(shop: ApiClient, **overrides: Any) -> dict[str, Any]:
    return await create_member(shop, **{"email": f"m-{uuid.uuid4().hex[:10]}@example.com", **overrides})


async def _row(sessions: Sessions, message_key: str) -> Message | None:
    async with sessions() as session:
        return (await session.execute(select(Message).where(Message.message_key == message_key))).scalar_one_or_none()


async def _coupon(
    marketer: ApiClient, shop: ApiClient, member_id: str, kind: str = "percent", value: str = "10"
) -> str:
    code = f"t_{uuid.uuid4().hex[:10]}"
    template = {"code": code, "name": "Test offer", "kind": kind, "value": value, "validity_days": 30}
    assert (await marketer.post("/api/v1/coupon-templates", json=template)).status_code == 201
    issued = await shop.post("/api/v1/coupons", json={"template_code": code, "member_id": member_id})
    assert issued.status_code == 201, issued.text
    coupon_code: str = issued.json()["code"]
    return coupon_code


# Exactly once


async def test_send_retried_after_a_crash_past_the_provider_delivers_one_email(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop, name="Li Wei", locale="en")
    activities = _activities(sessions, settings, fail_after_send=True)
    env = ActivityEnvironment()
    inp = _send(member["id"])
    with pytest.raises(RuntimeError, match="fail_after_send"):
        await env.run(activities.send, inp)
    assert len(smtp_sink.to(member["email"])) == 1
    again = await env.run(activities.send, inp)
    assert again.status == "sent"
    assert len(smtp_sink.to(member["email"])) == 1
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.provider, str(row.id)) == ("sent", "smtp", again.message_id)
    sent = smtp_sink.to(member["email"])[0]
    assert sent["Subject"] == "Welcome to Tea House, Li Wei"
    assert sent["Message-ID"] == row.provider_message_id
    assert sent["Message-ID"].endswith("@teahouse.example>")


async def test_a_retried_activity_in_a_workflow_sends_one_email(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    member = await _member(shop, locale="en", timezone=midday_zone())  # on the wall clock: outside quiet hours
    failing = settings.model_copy(update={"messaging": settings.messaging.model_copy(update={"fail_after_send": True})})
    inp = _send(member["id"])
    channel_workers = build_channel_workers(temporal_env.client, sessions, failing)
    assert [w.task_queue for w in channel_workers] == [f"{task_queue}-email", f"{task_queue}-sms"]
    async with (
        Worker(temporal_env.client, task_queue=task_queue, workflows=[SendOnceWorkflow]),
        channel_workers[0],
    ):
        handle = await temporal_env.client.start_workflow(
            SendOnceWorkflow.run, inp, id=f"send-{uuid.uuid4()}", task_queue=task_queue
        )
        outcome = await handle.result()
        history = await handle.fetch_history()
    assert outcome.status == "sent"
    assert len(smtp_sink.to(member["email"])) == 1
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts == [2]  # the first attempt failed after sending; the second found it sent


class FlakyProvider(LogProvider):
    """Refuses the first `failures` messages the way an unreachable provider does, then records them."""

    def __init__(self, failures: int = 1, *, permanent: bool = False, crash: bool = False) -> None:
        super().__init__()
        self.failures, self.permanent, self.crash, self.calls = failures, permanent, crash, 0

    async def send_email(self, email: OutgoingEmail) -> Receipt:
        self.calls += 1
        if self.calls <= self.failures:
            if self.crash:
                raise ConnectionResetError("connection lost after the message was handed over")
            raise ProviderError("connection refused", permanent=self.permanent)
        return await super().send_email(email)


async def test_a_provider_error_leaves_the_message_queued_and_the_retry_sends_it(
    shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    member = await _member(shop)
    provider = FlakyProvider()
    activities = _activities(sessions, settings, providers=Providers(email=provider, sms=provider))
    env, inp = ActivityEnvironment(), _send(member["id"])
    with pytest.raises(ApplicationError) as failure:
        await env.run(activities.send, inp)
    assert failure.value.type == "ProviderUnavailable"
    assert not failure.value.non_retryable
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.reason) == ("queued", "connection refused")
    assert (await env.run(activities.send, inp)).status == "sent"
    assert (provider.calls, len(provider.sent)) == (2, 1)


async def test_a_permanent_refusal_or_the_last_attempt_records_failed(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    refused = await _member(shop, email=f"refuse-{uuid.uuid4().hex[:8]}@example.com")
    result = await ActivityEnvironment().run(_activities(sessions, settings).send, _send(refused["id"]))
    assert result.status == "failed"
    assert result.reason is not None
    assert "550" in result.reason
    busy = await _member(shop, email=f"busy-{uuid.uuid4().hex[:8]}@example.com")
    last = ActivityEnvironment()
    last.info = dataclasses.replace(last.info, attempt=3, retry_policy=RetryPolicy(maximum_attempts=3))
    result = await last.run(_activities(sessions, settings).send, _send(busy["id"]))
    assert result.status == "failed"
    assert result.reason is not None
    assert "451" in result.reason
    assert smtp_sink.to(refused["email"]) == smtp_sink.to(busy["email"]) == []


async def test_a_crash_with_the_outcome_unknown_is_never_resent(
    shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    member = await _member(shop)
    provider = FlakyProvider(crash=True)
    activities = _activities(sessions, settings, providers=Providers(email=provider, sms=provider))
    env, inp = ActivityEnvironment(), _send(member["id"])
    with pytest.raises(ConnectionResetError):
        await env.run(activities.send, inp)
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert row.status == "sending"
    result = await env.run(activities.send, inp)
    assert (result.status, result.reason) == ("failed", UNKNOWN_OUTCOME)
    assert (await env.run(activities.send, inp)).status == "failed"
    assert (provider.calls, len(provider.sent)) == (1, 0)


# Consent and opting out


async def test_without_consent_a_message_is_suppressed_and_recorded(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop, consent={"email": False, "sms": False})
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    inp = _send(member["id"])
    result = await env.run(activities.send, inp)
    assert (result.status, result.reason) == ("suppressed", "no_consent")
    assert await env.run(activities.send, inp) == result
    sms = await env.run(activities.send, _send(member["id"], "cart_reminder", channel="sms"))
    assert (sms.status, sms.reason) == ("suppressed", "no_consent")
    # A service message about a redemption is not marketing: it goes out by email without marketing consent.
    receipt = _send(member["id"], "redemption_approved", category="transactional", context={"reward_name": "Tea set"})
    assert (await env.run(activities.send, receipt)).status == "sent"
    mails = smtp_sink.to(member["email"])
    assert len(mails) == 1
    assert "List-Unsubscribe" not in mails[0]
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.reason, row.body) == ("suppressed", "no_consent", None)
    nobody = await env.run(activities.send, _send(str(uuid.uuid4())))
    assert (nobody.status, nobody.reason, nobody.message_id) == ("suppressed", "member_missing", None)


async def test_the_unsubscribe_link_opts_out_once_and_the_next_send_is_suppressed(
    shop: ApiClient, http: httpx.AsyncClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop)
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    assert (await env.run(activities.send, _send(member["id"]))).status == "sent"
    (mail,) = smtp_sink.to(member["email"])
    header = mail["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    links = re.findall(r'href="(http://memberflow\.test/u/[^"]+)"', html_part.get_content())
    assert links == [header.strip("<>")]
    path = urlsplit(links[0]).path

    first = await http.get(path)
    assert first.status_code == 200
    assert "text/html" in first.headers["content-type"]
    assert "您已成功退订" in first.text  # the member's locale is zh-CN
    profile = (await shop.get(f"/api/v1/members/{member['id']}")).json()
    assert profile["consent"]["email"] is False
    assert profile["consent"]["email_source"] == "unsubscribe"
    again = await http.get(path)
    assert again.status_code == 200
    assert (await shop.get(f"/api/v1/members/{member['id']}")).json()["consent"] == profile["consent"]
    assert (await http.post(path)).status_code == 200  # one-click (RFC 8058)

    result = await env.run(activities.send, _send(member["id"], "brand_story"))
    assert (result.status, result.reason) == ("suppressed", "opted_out")
    assert len(smtp_sink.to(member["email"])) == 1

    token = path.removeprefix("/u/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/u/{tampered}", "/u/not-a-token", "/u/" + "x" * 300):
        assert_error(await http.get(bad), 400, "invalid_unsubscribe_token")


async def test_sms_stop_opts_the_number_out(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    member = await _member(shop, phone=phone, consent={"email": True, "sms": True})
    provider = LogProvider()
    activities = _activities(sessions, settings, providers=Providers(email=provider, sms=provider))
    env = ActivityEnvironment()
    coupon = await _coupon(marketer, shop, member["id"], kind="amount", value="5.00")
    sent = await env.run(activities.send, _send(member["id"], "cart_reminder", channel="sms", coupon_code=coupon))
    assert sent.status == "sent"
    (sms,) = provider.sent
    assert isinstance(sms, OutgoingSms)
    assert sms.to == phone
    assert coupon in sms.text
    assert sms.text.endswith("回复TD退订")

    not_stop = await shop.post("/api/v1/sms/inbound", json={"from": phone, "text": "thanks!"})
    assert not_stop.json() == {"stop": False, "opted_out": 0}
    stop = await shop.post("/api/v1/sms/inbound", json={"from": phone, "text": " 退订 "})
    assert stop.status_code == 200, stop.text
    assert stop.json() == {"stop": True, "opted_out": 1}
    assert (await admin.post("/api/v1/sms/inbound", json={"from": phone, "text": "STOP"})).json()["opted_out"] == 0
    consent = (await shop.get(f"/api/v1/members/{member['id']}")).json()["consent"]
    assert (consent["sms"], consent["sms_source"]) == (False, "sms_stop")
    result = await env.run(activities.send, _send(member["id"], "first_purchase_reminder", channel="sms"))
    assert (result.status, result.reason) == ("suppressed", "opted_out")
    assert len(provider.sent) == 1
    assert_error(await marketer.post("/api/v1/sms/inbound", json={"from": phone, "text": "STOP"}), 403)
    assert_error(await shop.post("/api/v1/sms/inbound", json={"sender": phone, "text": "STOP"}), 422)


# Quiet hours and the frequency cap


def test_quiet_hours_end_in_the_members_time_zone() -> None:
    window = {"start": "21:00", "end": "09:00"}
    nine_shanghai = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert quiet_hours_end(datetime(2026, 3, 10, 14, 30, tzinfo=UTC), "Asia/Shanghai", **window) == nine_shanghai
    assert quiet_hours_end(datetime(2026, 3, 10, 23, 59, tzinfo=UTC), "Asia/Shanghai", **window) == nine_shanghai
    assert quiet_hours_end(datetime(2026, 3, 11, 1, 0, tzinfo=UTC), "Asia/Shanghai", **window) is None
    assert quiet_hours_end(datetime(2026, 3, 10, 12, 59, tzinfo=UTC), "Asia/Shanghai", **window) is None
    # A window that does not cross midnight, and one switched off.
    assert quiet_hours_end(
        datetime(2026, 3, 10, 12, 30, tzinfo=UTC), "Europe/Paris", start="12:00", end="14:00"
    ) == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 13:30 in Paris (UTC+1) → 14:00 there
    assert (
        quiet_hours_end(datetime(2026, 3, 10, 14, 30, tzinfo=UTC), "Asia/Shanghai", start="00:00", end="00:00") is None
    )


async def test_quiet_hours_defer_marketing_to_nine_local_and_write_nothing(
    shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    member = await _member(shop, timezone="Asia/Shanghai")
    late = _activities(sessions, settings, now=lambda: datetime(2026, 3, 10, 14, 30, tzinfo=UTC))  # 22:30 local
    env, inp = ActivityEnvironment(), _send(member["id"])
    result = await env.run(late.send, inp)
    assert result == SendMessageResult(
        status="deferred", message_id=None, retry_at=datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    )
    assert await _row(sessions, inp.message_key) is None
    receipt = _send(member["id"], "redemption_pending", category="transactional")
    assert (await env.run(late.send, receipt)).status == "sent"
    at_nine = _activities(sessions, settings, now=lambda: datetime(2026, 3, 11, 1, 0, tzinfo=UTC))
    assert (await env.run(at_nine.send, inp)).status == "sent"


async def test_the_workflow_waits_out_quiet_hours_then_sends(
    shop: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    member = await _member(shop, timezone="UTC", locale="en")
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    # The activity reads Temporal's clock, so the skipped time counts.
    activities = _activities(
        sessions,
        settings,
        now=lambda: activity.info().current_attempt_scheduled_time,
        quiet_hours_start=start,
        quiet_hours_end=end,
    )
    async with (
        Worker(temporal_env.client, task_queue=task_queue, workflows=[SendOnceWorkflow]),
        Worker(temporal_env.client, task_queue=channel_task_queue(task_queue, "email"), activities=[activities.send]),
    ):
        outcome = await temporal_env.client.execute_workflow(
            SendOnceWorkflow.run, _send(member["id"]), id=f"send-{uuid.uuid4()}", task_queue=task_queue
        )
    assert isinstance(outcome, SendOnceOutcome)
    assert (outcome.status, outcome.deferrals) == ("sent", 1)
    assert len(smtp_sink.to(member["email"])) == 1


async def test_the_fourth_marketing_message_in_seven_days_is_suppressed_but_not_a_transactional_one(
    shop: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    member = await _member(shop)
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    templates = ["welcome", "brand_story", "purchase_thanks", "care_tips"]
    results = [await env.run(activities.send, _send(member["id"], t)) for t in templates]
    assert [r.status for r in results] == ["sent", "sent", "sent", "suppressed"]
    assert results[-1].reason == "frequency_cap"
    receipt = _send(member["id"], "redemption_shipped", category="transactional", context={"tracking_number": "SF1"})
    assert (await env.run(activities.send, receipt)).status == "sent"
    # The window rolls: a week and a day later the member can hear from us again.
    later = _activities(sessions, settings, now=lambda: NOON_SHANGHAI + timedelta(days=8))
    assert (await env.run(later.send, _send(member["id"], "cross_sell"))).status == "sent"


# Templates


def test_locale_fallback_order() -> None:
    shipped = {"en", "zh-CN"}
    assert locale_candidates("zh-CN", shipped)[0] == "zh-CN"
    assert locale_candidates("zh-TW", shipped)[0] == "zh-CN"  # same language beats English
    assert locale_candidates("zh-TW", shipped | {"zh"})[0] == "zh"
    assert locale_candidates("en-GB", shipped)[0] == "en"
    assert locale_candidates("fr-FR", shipped) == ["en"]
    assert locale_candidates("fr", {"zh-CN"}) == []


async def test_every_builtin_template_ships_in_english_and_chinese(sessions: Sessions) -> None:
    from services.journeys.builtins import BUILTIN_TEMPLATES

    redemptions = [
        ("email", key)
        for key in (
            "redemption_pending",
            "redemption_approved",
            "redemption_rejected",
            "redemption_expired",
            "redemption_shipped",
            "approval_request",
        )
    ]
    async with sessions() as session:
        rows = await templates.list_templates(session)
        assert await templates.seed_builtin_templates(session) == 0  # idempotent
    have = {(t.channel, t.key, t.locale) for t in rows}
    for channel, key in [*BUILTIN_TEMPLATES, *redemptions]:
        assert {(channel, key, "en"), (channel, key, "zh-CN")} <= have, (channel, key)


async def test_a_member_gets_their_locale_or_its_fallback(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    for locale, expected, subject in (
        ("zh-CN", "zh-CN", "欢迎加入Tea House，王芳"),
        ("zh-TW", "zh-CN", "欢迎加入Tea House，王芳"),
        ("fr-FR", "en", "Welcome to Tea House, 王芳"),
    ):
        member = await _member(shop, name="王芳", locale=locale)
        inp = _send(member["id"])
        assert (await env.run(activities.send, inp)).status == "sent"
        row = await _row(sessions, inp.message_key)
        assert row is not None
        assert (row.locale, row.subject) == (expected, subject)
        (mail,) = smtp_sink.to(member["email"])
        assert mail["Subject"] == subject
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        assert "王芳" in text.get_content()


async def test_templates_are_edited_with_syntax_checks_and_roles(
    marketer: ApiClient, shop: ApiClient, make_key: KeyMaker, http: httpx.AsyncClient
) -> None:
    key = f"promo_{uuid.uuid4().hex[:8]}"
    url = f"/api/v1/templates/{key}/email/en"
    broken = {"subject": "Hello", "body": "<p>Hi</p>\n<p>{{ member.name </p>\n"}
    error = assert_error(await marketer.put(url, json=broken), 422, "template_syntax_error")
    assert "body line 2" in error["message"]
    assert error["details"][0]["field"] == "body.body"
    assert error["details"][0]["line"] == 2
    bad_subject = {"subject": "{% if %}", "body": "<p>ok</p>"}
    assert assert_error(await marketer.put(url, json=bad_subject), 422)["details"][0]["field"] == "body.subject"
    assert_error(await marketer.put(url, json={"body": "<p>no subject</p>"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"subject": "x", "body": "x"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/fax/en", json={"body": "x"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/sms/english", json={"body": "x"}), 422)
    ops = ApiClient(http, await make_key(Role.OPS))
    assert_error(await ops.put(url, json={"subject": "Hi", "body": "<p>x</p>"}), 403)
    assert_error(await shop.put(url, json={"subject": "Hi", "body": "<p>x</p>"}), 403)

    saved = await marketer.put(url, json={"subject": "Hi {{ member.name }}", "body": "<p>{{ brand }}</p>"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["updated_by"].startswith("test-marketer")
    replaced = await marketer.put(url, json={"subject": "Hello {{ member.name }}", "body": "<p>v2</p>"})
    assert replaced.json()["subject"] == "Hello {{ member.name }}"
    listed = (await ops.get("/api/v1/templates", params={"key": key})).json()
    assert [(t["key"], t["channel"], t["locale"], t["body"]) for t in listed] == [(key, "email", "en", "<p>v2</p>")]


async def test_preview_renders_member_fields_and_coupon_escaped(
    marketer: ApiClient, shop: ApiClient, settings: Settings
) -> None:
    member = await _member(shop, name="Tom <b>&", locale="en")
    coupon = await _coupon(marketer, shop, member["id"])
    body = {"template": "welcome", "channel": "email", "member_id": member["id"], "coupon_code": coupon}
    response = await marketer.post("/api/v1/templates/preview", json=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["subject"] == "Welcome to Tea House, Tom <b>&"  # a header: not HTML
    assert "Welcome, Tom &lt;b&gt;&amp;!" in preview["body"]
    assert f"<strong>{coupon}</strong>" in preview["body"]
    assert "10% off" in preview["body"]
    assert "http://memberflow.test/u/preview-unsubscribe-link" in preview["body"]
    assert "Tom <b>&" in preview["text"]
    chinese = await marketer.post("/api/v1/templates/preview", json={**body, "locale": "zh-CN"})
    assert chinese.json()["locale"] == "zh-CN"
    assert "9折" in chinese.json()["body"]
    sms = {"template": "cart_reminder", "channel": "sms", "member_id": member["id"], "coupon_code": coupon}
    assert (
        (await marketer.post("/api/v1/templates/preview", json=sms)).json()["body"].endswith("Reply STOP to opt out.")
    )

    assert_error(await marketer.post("/api/v1/templates/preview", json={**body, "coupon_code": "MF-NONE"}), 404)
    unknown = {**body, "member_id": str(uuid.uuid4())}
    assert_error(await marketer.post("/api/v1/templates/preview", json=unknown), 404, "member_not_found")
    assert_error(await marketer.post("/api/v1/templates/preview", json={**body, "template": "nope"}), 404)
    assert_error(await shop.post("/api/v1/templates/preview", json=body), 403)


async def test_marketing_always_carries_an_opt_out_whatever_the_template_says(
    marketer: ApiClient, shop: ApiClient
) -> None:
    member = await _member(shop, locale="en")
    key = f"flash_{uuid.uuid4().hex[:8]}"
    email_put = {"subject": "Flash sale", "body": "<p>Don't stop now!</p>"}
    assert (await marketer.put(f"/api/v1/templates/{key}/email/en", json=email_put)).status_code == 200
    assert (await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"body": "Don't stop now!"})).status_code == 200
    preview = {"template": key, "member_id": member["id"]}
    email_body = (await marketer.post("/api/v1/templates/preview", json={**preview, "channel": "email"})).json()["body"]
    assert ">Unsubscribe</a>" in email_body
    sms = await marketer.post("/api/v1/templates/preview", json={**preview, "channel": "sms"})
    assert sms.json()["body"] == "Don't stop now! Reply STOP to opt out."
    service = {**preview, "channel": "sms", "category": "transactional"}
    assert (await marketer.post("/api/v1/templates/preview", json=service)).json()["body"] == "Don't stop now!"
    receipt = await marketer.post(
        "/api/v1/templates/preview", json={**preview, "channel": "email", "category": "transactional"}
    )
    assert "Unsubscribe" not in receipt.json()["body"]


# The message log


async def test_message_log_filters_pages_and_shows_in_the_member_view(
    shop: ApiClient, make_key: KeyMaker, http: httpx.AsyncClient, sessions: Sessions, settings: Settings
) -> None:
    member = await _member(shop, locale="en", consent={"email": True, "sms": False})
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    await env.run(activities.send, _send(member["id"], "welcome"))
    await env.run(activities.send, _send(member["id"], "brand_story"))
    await env.run(activities.send, _send(member["id"], "cart_reminder", channel="sms"))
    ops = ApiClient(http, await make_key(Role.OPS))
    everything = (await ops.get("/api/v1/messages", params={"member_id": member["id"]})).json()
    assert [(m["template"], m["status"]) for m in everything["items"]] == [
        ("cart_reminder", "suppressed"),
        ("brand_story", "sent"),
        ("welcome", "sent"),
    ]
    assert everything["next_cursor"] is None
    assert everything["items"][1]["subject"] == "The story behind Tea House"
    assert "<h1>" in everything["items"][1]["body"]
    suppressed = await ops.get("/api/v1/messages", params={"member_id": member["id"], "status": "suppressed"})
    assert [m["reason"] for m in suppressed.json()["items"]] == ["no_consent"]
    emails = await ops.get("/api/v1/messages", params={"member_id": member["id"], "channel": "email", "limit": 1})
    page = emails.json()
    assert [m["template"] for m in page["items"]] == ["brand_story"]
    rest = await ops.get(
        "/api/v1/messages", params={"member_id": member["id"], "channel": "email", "cursor": page["next_cursor"]}
    )
    assert [m["template"] for m in rest.json()["items"]] == ["welcome"]
    walked = await walk_pages(ops, "/api/v1/messages", limit=1, params={"member_id": member["id"]})
    assert [m["id"] for m in walked] == [m["id"] for m in everything["items"]]  # newest first, each once

    view = (await ops.get(f"/api/v1/members/{member['id']}")).json()
    assert [m["template"] for m in view["recent_messages"]] == ["cart_reminder", "brand_story", "welcome"]
    assert "body" not in view["recent_messages"][0]

    assert_error(await http.get("/api/v1/messages"), 401)
    assert_error(await ops.get("/api/v1/messages", params={"status": "lost"}), 422)
    assert_error(await ops.get("/api/v1/messages", params={"cursor": "!!"}), 400, "invalid_cursor")


# Providers


async def test_http_sms_provider_posts_json_with_a_bearer_token() -> None:
    seen: list[httpx.Request] = []
    answers = iter([httpx.Response(200, json={"id": "p-1"}), httpx.Response(503), httpx.Response(400, text="bad")])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    provider = HttpSmsProvider("https://sms.example/send", "tok", transport=httpx.MockTransport(handler))
    sms = OutgoingSms(message_id="m-1", message_key="k", to="+8613900000000", text="hi")
    assert await provider.send_sms(sms) == Receipt(provider="http", provider_message_id="p-1")
    assert json.loads(seen[0].content) == {"to": "+8613900000000", "text": "hi", "message_id": "m-1"}
    assert seen[0].headers["Authorization"] == "Bearer tok"
    with pytest.raises(ProviderError) as transient:
        await provider.send_sms(sms)
    assert not transient.value.permanent
    with pytest.raises(ProviderError) as permanent:
        await provider.send_sms(sms)
    assert permanent.value.permanent


def test_build_providers_defaults_to_the_log_provider() -> None:
    providers = build_providers(MessagingSettings())
    assert (providers.email.name, providers.sms.name) == ("log", "log")
    with pytest.raises(ValueError, match="sms_url"):
        build_providers(MessagingSettings(sms_provider="http"))
