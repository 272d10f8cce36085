"""Sending: exactly once through retries, consent, quiet hours, the frequency cap and the message log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.messaging import SendMessageResult, channel_task_queue
from core.settings import Settings
from services.messaging import quiet_hours_end
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error, midday_zone, walk_pages
from tests.support.messaging import NOON_SHANGHAI, Sessions, SmtpSink
from tests.support.messaging import message_row as _row
from tests.support.messaging import messaging_activities as _activities
from tests.support.messaging import new_member as _member
from tests.support.messaging import send_input as _send
from tests.support.messaging_workflows import SendOnceOutcome, SendOnceWorkflow
from worker import build_channel_workers

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


# Consent


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
    assert everything["items"][1]["body"] is None  # rendered bodies are masked for every role
    admin = ApiClient(http, await make_key(Role.ADMIN))
    revealed = (await admin.get("/api/v1/messages", params={"member_id": member["id"], "unmasked": "true"})).json()
    assert "<h1>" in revealed["items"][1]["body"]
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
