"""The built-in journeys end to end: API → outbox → workflow → activities → messages, on the time-skipping
test server, both branches of each. Set MEMBERFLOW_RECORD_HISTORIES=1 to (re)write tests/histories/."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import Coupon, JourneyRun, Message, StaffTask, TemporalOutbox
from tests.support.clock import born_on_the_day, late_utc_evening, utc_today
from tests.support.helpers import ApiClient, member_body, midday_zone, new_member_id, order_body, zone_where_it_is
from tests.support.temporal import HISTORIES, started_workers
from workflows.contracts import JOURNEY_KIND, JOURNEY_STEP, MEMBER_ID, JourneyOutcome, JourneyStatus
from workflows.journey import JourneyWorkflow

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.time_skipping  # the app and the workers talk to this test's own time-skipping server


async def _member(shop: ApiClient, **overrides: Any) -> str:
    return await new_member_id(shop, timezone=midday_zone(), consent={"email": True, "sms": True}, **overrides)


def _handle(env: WorkflowEnvironment, kind: str, member_id: str) -> WorkflowHandle[Any, JourneyOutcome]:
    return env.client.get_workflow_handle_for(JourneyWorkflow.run, f"journey-{kind}-{member_id}")


async def _at_step(handle: WorkflowHandle[Any, JourneyOutcome], step: str) -> JourneyStatus:
    for _ in range(300):
        try:
            status: JourneyStatus = await handle.query(JourneyWorkflow.status)
        except Exception:  # noqa: BLE001 - not started yet (the outbox delivers right after the request)
            await asyncio.sleep(0.05)
            continue
        if status.step == step:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {step}")


async def _messages(sessions: Sessions, member_id: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Message.template, Message.status, Message.reason)
                .where(Message.member_id == uuid.UUID(member_id))
                .order_by(Message.created_at)
            )
        ).all()
    failed = [(row.template, row.reason) for row in rows if row.status == "failed"]
    assert not failed, failed
    return [(row.template, row.status) for row in rows]


async def _run(sessions: Sessions, workflow_id: str) -> JourneyRun:
    async with sessions() as session:
        run = (
            (
                await session.execute(
                    select(JourneyRun)
                    .where(JourneyRun.workflow_id == workflow_id)
                    .order_by(JourneyRun.started_at.desc())
                )
            )
            .scalars()
            .first()
        )
    assert run is not None
    return run


def _day_of(run: JourneyRun, step: str) -> float:
    start = datetime.fromisoformat(run.steps[0]["at"])
    at = next(datetime.fromisoformat(s["at"]) for s in run.steps if s["step"] == step)
    return (at - start).total_seconds() / 86400


async def _record_history(handle: WorkflowHandle[Any, JourneyOutcome], name: str) -> None:
    if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_welcome_without_a_purchase_sends_the_reminder_on_day_seven(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    member_id = await _member(shop)
    handle = _handle(temporal_env, "welcome", member_id)
    await _at_step(handle, "story_delay")
    description = await handle.describe()
    assert description.typed_search_attributes.get(MEMBER_ID) == member_id
    assert description.typed_search_attributes.get(JOURNEY_KIND) == "welcome"
    await temporal_env.sleep(timedelta(days=8))
    outcome = await handle.result()
    assert outcome.result == "completed"
    assert outcome.steps == ["welcome_message", "story_delay", "brand_story", "wait_first_purchase", "reminder", "done"]
    assert await _messages(sessions, member_id) == [
        ("welcome", "sent"),
        ("brand_story", "sent"),
        ("first_purchase_reminder", "sent"),
    ]
    run = await _run(sessions, handle.id)
    assert run.status == "completed"
    assert 0.99 < _day_of(run, "brand_story") < 1.01
    assert 6.99 < _day_of(run, "reminder") < 7.01
    async with sessions() as session:
        coupon = (await session.execute(select(Coupon).where(Coupon.member_id == uuid.UUID(member_id)))).scalar_one()
    assert coupon.status == "issued"
    assert (await handle.describe()).typed_search_attributes.get(JOURNEY_STEP) == "done"
    await _record_history(handle, "welcome_reminder")


async def test_welcome_ends_on_a_purchase_on_day_three_without_the_reminder(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    member_id = await _member(shop)
    handle = _handle(temporal_env, "welcome", member_id)
    await _at_step(handle, "story_delay")
    await temporal_env.sleep(timedelta(days=3))
    assert (await shop.post("/api/v1/orders", json=order_body(member_id, amount="20.00"))).status_code == 201
    outcome = await handle.result()
    assert outcome.result == "exited"
    assert "reminder" not in outcome.steps
    assert ("first_purchase_reminder", "sent") not in await _messages(sessions, member_id)
    assert (await _run(sessions, handle.id)).status == "exited"
    await _record_history(handle, "welcome_purchase")


async def test_welcome_with_an_order_before_its_first_task_still_sends_the_welcome(
    shop: ApiClient, temporal_env: WorkflowEnvironment, settings: Settings, sessions: Sessions
) -> None:
    member_id = await _member(shop)  # no worker yet: the run's first task will already hold the order
    assert (await shop.post("/api/v1/orders", json=order_body(member_id, amount="20.00"))).status_code == 201
    async with started_workers(temporal_env.client, sessions, settings):
        outcome = await _handle(temporal_env, "welcome", member_id).result()
    assert (outcome.result, outcome.steps) == ("exited", ["welcome_message"])  # exit_from: story_delay
    assert ("welcome", "sent") in await _messages(sessions, member_id)
    await _record_history(_handle(temporal_env, "welcome", member_id), "welcome_order_at_once")


async def test_first_purchase_follow_up_both_ways(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    quiet = await _member(shop)
    again = await _member(shop)
    for member_id in (quiet, again):
        await shop.post("/api/v1/orders", json=order_body(member_id, amount="30.00"))
    quiet_handle = _handle(temporal_env, "first_purchase", quiet)
    again_handle = _handle(temporal_env, "first_purchase", again)
    await _at_step(quiet_handle, "tips_delay")
    await _at_step(again_handle, "tips_delay")
    await temporal_env.sleep(timedelta(days=10))
    await shop.post("/api/v1/orders", json=order_body(again, amount="45.00"))
    await temporal_env.sleep(timedelta(days=5))
    quiet_outcome, again_outcome = await quiet_handle.result(), await again_handle.result()
    assert quiet_outcome.steps[-2:] == ["cross_sell", "done"]
    assert "cross_sell" not in again_outcome.steps
    assert [t for t, _ in await _messages(sessions, quiet) if t != "welcome"] == [
        "purchase_thanks",
        "care_tips",
        "cross_sell",
    ]
    assert [t for t, _ in await _messages(sessions, again) if t != "welcome"] == ["purchase_thanks", "care_tips"]
    await _record_history(quiet_handle, "first_purchase_cross_sell")


async def test_tier_upgrade_congratulates_with_a_coupon(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    member_id = await _member(shop)
    await shop.post("/api/v1/orders", json=order_body(member_id, amount="1000.01"))
    outcome = await _handle(temporal_env, "tier_upgrade", member_id).result()
    assert outcome.result == "completed"
    assert ("tier_upgrade", "sent") in await _messages(sessions, member_id)
    async with sessions() as session:
        codes = (
            (
                await session.execute(
                    select(Coupon.code).where(
                        Coupon.member_id == uuid.UUID(member_id), Coupon.issue_key.like("%tier_upgrade%")
                    )
                )
            )
            .scalars()
            .all()
        )
        body = (
            await session.execute(
                select(Message.body).where(
                    Message.member_id == uuid.UUID(member_id), Message.template == "tier_upgrade"
                )
            )
        ).scalar_one()
    assert len(codes) == 1
    assert codes[0] in body
    await _record_history(_handle(temporal_env, "tier_upgrade", member_id), "tier_upgrade")


async def test_abandoned_cart_sms_two_hours_later_unless_they_ordered(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    left, bought = await _member(shop), await _member(shop)
    now = datetime.now(UTC).isoformat()
    for member_id in (left, bought):
        response = await shop.post(
            "/api/v1/events",
            json={
                "member_id": member_id,
                "type": "cart_abandoned",
                "occurred_at": now,
                "properties": {"cart_id": "c-1"},
            },
        )
        assert response.status_code == 201, response.text
    await _at_step(_handle(temporal_env, "abandoned_cart", bought), "grace")
    await _at_step(_handle(temporal_env, "abandoned_cart", left), "grace")
    await temporal_env.sleep(timedelta(hours=1))
    await shop.post("/api/v1/orders", json=order_body(bought, amount="12.00"))
    await temporal_env.sleep(timedelta(hours=2))
    assert (await _handle(temporal_env, "abandoned_cart", left).result()).result == "completed"
    assert (await _handle(temporal_env, "abandoned_cart", bought).result()).result == "exited"
    assert ("cart_reminder", "sent") in await _messages(sessions, left)
    assert all(t != "cart_reminder" for t, _ in await _messages(sessions, bought))
    await _record_history(_handle(temporal_env, "abandoned_cart", left), "abandoned_cart")


async def test_birthday_and_win_back_start_from_the_daily_scan(
    shop: ApiClient,
    temporal_env: WorkflowEnvironment,
    workers: None,
    sessions: Sessions,
    zoned_sessions: Sessions,
    task_queue: str,
) -> None:
    """The scan runs on a session in UTC and in Asia/Shanghai: the last purchase, at 20:00 UTC 30 days ago,
    is on the next day in Shanghai, and the scan must still count it as 30 days ago."""
    from temporalio.testing import ActivityEnvironment

    from activities.journeys import ScanActivities, ScanInput

    today = utc_today()
    birthday = await _member(shop, birthday=born_on_the_day(today, 1990).isoformat())
    silent = await _member(shop)
    placed = late_utc_evening(today - timedelta(days=30))
    await shop.post("/api/v1/orders", json=order_body(silent, amount="6000.00", placed_at=placed.isoformat()))
    activities = ScanActivities(zoned_sessions)
    env = ActivityEnvironment(client=temporal_env.client)
    result = await env.run(activities.daily_scan, ScanInput(today=today, task_queue=task_queue))
    assert result.started["birthday"] >= 1
    assert result.started["win_back"] >= 1
    await temporal_env.sleep(timedelta(days=1))
    birthday_outcome = await _handle(temporal_env, "birthday", birthday).result()
    assert "greeting" in birthday_outcome.steps
    await temporal_env.sleep(timedelta(days=8))
    win_back = await _handle(temporal_env, "win_back", silent).result()
    assert win_back.steps[:3] == ["high_value", "flag_pre_churn", "miss_you"]
    assert "call_member" in win_back.steps  # gold after 6,000 spent: a staff callback, not a stronger offer
    async with sessions() as session:
        tasks = (await session.execute(select(StaffTask).where(StaffTask.member_id == uuid.UUID(silent)))).scalars()
        titles = [t.title for t in tasks]
    assert titles.count("Call this member: silent for weeks after an offer") == 1
    view = (await shop.get(f"/api/v1/members/{silent}")).json()
    assert "pre_churn" in view["tags"]
    await _record_history(_handle(temporal_env, "win_back", silent), "win_back")


async def test_a_marketer_cancels_a_run_and_it_records_itself_cancelled(
    shop: ApiClient, admin: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    member_id = await _member(shop)
    handle = _handle(temporal_env, "welcome", member_id)
    await _at_step(handle, "story_delay")
    [run] = (await shop.get(f"/api/v1/members/{member_id}/journeys")).json()
    assert (run["kind"], run["status"], run["current_step"]) == ("welcome", "running", "story_delay")
    assert run["temporal_url"].endswith(f"/workflows/{handle.id}/{run['run_id']}")
    waiting = (await shop.get("/api/v1/journeys/welcome/runs", params={"step": "story_delay"})).json()
    assert run["run_id"] in {r["run_id"] for r in waiting["items"]}
    response = await admin.post(f"/api/v1/journeys/runs/{run['run_id']}/cancel")
    assert response.status_code == 202, response.text
    for _ in range(100):
        current = await _run(sessions, handle.id)
        if current.status != "running":
            break
        await asyncio.sleep(0.05)
    assert current.status == "cancelled"
    again = await admin.post(f"/api/v1/journeys/runs/{run['run_id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_not_running"


async def test_birthday_for_gold_adds_a_task_and_win_back_for_small_spenders_sends_a_stronger_offer(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions, task_queue: str
) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.journeys import ScanActivities, ScanInput

    today = utc_today()
    gold = await _member(shop, birthday=born_on_the_day(today, 1985).isoformat())
    await shop.post("/api/v1/orders", json=order_body(gold, amount="5200.00"))
    small = await _member(shop)
    await shop.post(
        "/api/v1/orders",
        json=order_body(small, amount="80.00", placed_at=(datetime.now(UTC) - timedelta(days=30)).isoformat()),
    )
    env = ActivityEnvironment(client=temporal_env.client)
    await env.run(ScanActivities(sessions).daily_scan, ScanInput(today=today, task_queue=task_queue))
    await temporal_env.sleep(timedelta(days=9))
    birthday = await _handle(temporal_env, "birthday", gold).result()
    assert birthday.steps[-2:] == ["personal_touch", "done"]
    win_back = await _handle(temporal_env, "win_back", small).result()
    assert win_back.steps == ["high_value", "miss_you", "wait_return", "valuable", "stronger_offer", "done"]
    templates = [t for t, _ in await _messages(sessions, small)]
    assert templates.index("we_miss_you") < templates.index("win_back_stronger")
    async with sessions() as session:
        titles = (
            await session.execute(select(StaffTask.title).where(StaffTask.member_id == uuid.UUID(gold)))
        ).scalars()
        assert "Send a personal birthday note" in list(titles)
    assert "pre_churn" not in (await shop.get(f"/api/v1/members/{small}")).json()["tags"]


def night_zone() -> str:
    """About 03:00 right now, inside the default quiet hours (21:00-09:00)."""
    return zone_where_it_is(3)


async def test_a_marketing_send_in_quiet_hours_waits_for_the_window_by_the_runs_own_clock(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None, sessions: Sessions
) -> None:
    """The activity judges quiet hours at the workflow's time, so once the run's clock passes the opening the
    message goes out; before the fix it compared against the worker's wall clock and spun the run in a loop."""
    zone = night_zone()  # read the UTC hour once: a second reading an hour later would name another zone
    response = await shop.post("/api/v1/members", json=member_body(timezone=zone, consent={"email": True, "sms": True}))
    member_id = response.json()["id"]
    handle = _handle(temporal_env, "welcome", member_id)
    await _at_step(handle, "welcome_message")
    await temporal_env.sleep(timedelta(hours=7))
    status = await _at_step(handle, "story_delay")
    assert status.steps == ["welcome_message", "story_delay"]
    assert await _messages(sessions, member_id) == [("welcome", "sent")]
    events = [event async for event in handle.fetch_history_events()]
    assert len(events) < 60, f"{len(events)} events: the deferral looped"
    async with sessions() as session:
        sent_at = (
            await session.execute(select(Message.created_at).where(Message.member_id == uuid.UUID(member_id)))
        ).scalar_one()
    local = sent_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) >= (9, 0), local


async def _scan_starts(sessions: Sessions, today: date, member_ids: list[str], *, page_size: int) -> set[str]:
    """The birthday-journey starts one scan queues for these members (rolled back: nothing is started)."""
    from services import journeys

    wanted = {f"journey-birthday-{m}" for m in member_ids}
    async with sessions() as session:
        await journeys.scan_due(session, today=today, task_queue="tq-scan-pages", page_size=page_size)
        rows = await session.execute(select(TemporalOutbox.workflow_id).where(TemporalOutbox.workflow_id.in_(wanted)))
        found = set(rows.scalars().all())
        await session.rollback()
    return found


async def test_the_daily_scan_reaches_every_due_member_however_many_pages_they_fill(
    shop: ApiClient, zoned_sessions: Sessions
) -> None:
    today = utc_today()
    born = [await _member(shop, birthday=born_on_the_day(today, 1992).isoformat()) for _ in range(5)]
    assert await _scan_starts(zoned_sessions, today, born, page_size=2) == {f"journey-birthday-{m}" for m in born}


async def test_a_29_february_birthday_journey_starts_on_28_february_in_common_years(
    shop: ApiClient, zoned_sessions: Sessions
) -> None:
    sessions = zoned_sessions
    leapling = await _member(shop, birthday="2000-02-29")
    assert await _scan_starts(sessions, date(2027, 2, 28), [leapling], page_size=100) == {
        f"journey-birthday-{leapling}"
    }
    assert await _scan_starts(sessions, date(2028, 2, 28), [leapling], page_size=100) == set()  # leap year: the 29th
    assert await _scan_starts(sessions, date(2028, 2, 29), [leapling], page_size=100) == {
        f"journey-birthday-{leapling}"
    }
