"""Provider failures (refused, unreachable, crashed mid-hand-over), the HTTP SMS provider and the defaults."""

from __future__ import annotations

import dataclasses
import json
import uuid

import httpx
import pytest
from pydantic import SecretStr
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.messaging import SendMessageInput
from core.settings import MessagingSettings, Settings
from services.messaging import UNKNOWN_OUTCOME
from services.messaging.providers import (
    HandOver,
    HttpSmsProvider,
    LogProvider,
    OutgoingEmail,
    OutgoingSms,
    ProviderError,
    Providers,
    Receipt,
    build_providers,
    no_record,
)
from tests.support.helpers import ApiClient, midday_zone
from tests.support.http_sink import HttpSink, http_sink
from tests.support.messaging import Sessions, SmtpSink
from tests.support.messaging import message_row as _row
from tests.support.messaging import messaging_activities as _activities
from tests.support.messaging import new_member as _member
from tests.support.messaging import send_input as _send
from tests.support.messaging_workflows import SendOnceOutcome, SendOnceWorkflow
from worker import build_channel_workers

# Failures at the provider


class FlakyProvider(LogProvider):
    """Refuses the first `failures` messages the way an unreachable provider does, then records them."""

    def __init__(self, failures: int = 1, *, permanent: bool = False, crash: bool = False) -> None:
        super().__init__()
        self.failures, self.permanent, self.crash, self.calls = failures, permanent, crash, 0

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
        self.calls += 1
        if self.calls <= self.failures:
            if self.crash:
                await before_hand_over()
                raise ConnectionResetError("connection lost after the message was handed over")
            raise ProviderError("connection refused", permanent=self.permanent)
        return await super().send_email(email, before_hand_over)


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


async def _send_sms_through_a_workflow(
    temporal_env: WorkflowEnvironment, sessions: Sessions, settings: Settings, sink: HttpSink, inp: SendMessageInput
) -> tuple[SendOnceOutcome, list[int]]:
    """One SMS as a journey sends it (a workflow, the SMS channel's worker, Temporal's retry policy), through
    the HTTP provider to `sink`; the outcome and the attempt each activity task started with."""
    messaging = settings.messaging.model_copy(
        update={"sms_provider": "http", "sms_url": sink.url, "sms_token": SecretStr("tok")}
    )
    task_queue = f"tq-sms-{uuid.uuid4()}"  # workers of their own: one set per send, each with its sink's URL
    temporal = settings.temporal.model_copy(update={"task_queue": task_queue})
    configured = settings.model_copy(update={"messaging": messaging, "temporal": temporal})
    async with (
        Worker(temporal_env.client, task_queue=task_queue, workflows=[SendOnceWorkflow]),
        build_channel_workers(temporal_env.client, sessions, configured)[1],
    ):
        handle = await temporal_env.client.start_workflow(
            SendOnceWorkflow.run,
            inp,
            id=f"sms-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        outcome = await handle.result()
        history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    return outcome, attempts


@pytest.mark.time_skipping
async def test_http_sms_provider_on_a_real_server_retries_429_and_fails_on_other_4xx(
    shop: ApiClient, sessions: Sessions, settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    member = await _member(shop, timezone=midday_zone(), consent={"email": True, "sms": True})
    inp = _send(member["id"], "cart_reminder", channel="sms")
    async with http_sink((429, {"error": "slow down"}), (200, {"id": "p-9"}), path="/sms") as sink:
        outcome, attempts = await _send_sms_through_a_workflow(temporal_env, sessions, settings, sink, inp)
    assert (outcome.status, attempts) == ("sent", [2])  # the 429 was retried by Temporal, once
    assert [(r.method, r.path, r.headers["authorization"]) for r in sink.received] == [
        ("POST", "/sms", "Bearer tok")
    ] * 2
    first, second = (r.json() for r in sink.received)
    assert first == second  # the same message_id both times, so the provider can drop a duplicate
    row = await _row(sessions, inp.message_key)
    assert row is not None
    assert (row.status, row.provider, row.provider_message_id) == ("sent", "http", "p-9")
    assert (first["to"], first["text"]) == (member["phone"], row.body)
    assert first["message_id"] == str(row.id) == outcome.message_id

    refused = await _member(shop, timezone=midday_zone(), consent={"email": True, "sms": True})
    async with http_sink((400, {"error": "unknown number"}), (200, {"id": "never"}), path="/sms") as sink:
        refused_inp = _send(refused["id"], "cart_reminder", channel="sms")
        outcome, attempts = await _send_sms_through_a_workflow(temporal_env, sessions, settings, sink, refused_inp)
    assert (outcome.status, attempts, len(sink.received)) == ("failed", [1], 1)  # refused for good: no retry
    assert outcome.reason is not None
    assert "400" in outcome.reason
