"""Campaign lifecycle on a real Temporal dev server: pause/resume, cancel (with and without the journeys),
illegal transitions, starting twice, re-runs, a second campaign over the same members, a worker killed
mid-page, and recurring runs on a Temporal Schedule."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import CampaignSettings, Settings
from models import CampaignMember, JourneyRun, TemporalOutbox
from services import campaigns
from services.campaigns import enrolment
from tests.support.campaigns import (
    Sessions,
    add_journey,
    add_members,
    add_segment,
    count_journeys,
    eventually,
    running_workers,
    tag,
    wait_status,
)
from tests.support.helpers import ApiClient, assert_error

LONG_WAIT = [{"id": "linger", "wait": {"hours": 1}}, {"id": "done", "exit": {}}]


@pytest.fixture
def campaign_tuning() -> CampaignSettings:
    return CampaignSettings(page_size=10, concurrency=2, pages_per_run=5)


async def _campaign(
    marketer: ApiClient, sessions: Sessions, members: int, *, steps: list[dict[str, Any]] | None = None, **extra: Any
) -> tuple[str, list[uuid.UUID], str]:
    member_tag = tag()
    ids = await add_members(sessions, members, tags=[member_tag])
    kind = await add_journey(sessions, steps)
    segment_id = await add_segment(sessions, member_tag)
    body = {"name": "Lifecycle", "segment_id": str(segment_id), "journey_kind": kind, **extra}
    response = await marketer.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], ids, member_tag


async def _status_counts(sessions: Sessions, campaign_id: str) -> dict[str, int]:
    async with sessions() as session:
        return (await campaigns.progress(session, uuid.UUID(campaign_id))).as_dict()


async def _running_journeys(client: Client, campaign_id: str) -> int:
    query = f'CampaignId = "{campaign_id}" AND WorkflowType = "JourneyWorkflow" AND ExecutionStatus = "Running"'
    return (await client.count_workflows(query)).count


async def test_pause_holds_enrolment_and_resume_finishes_it(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, members, _ = await _campaign(marketer, sessions, 400)
    async with running_workers(temporal_dev.client, sessions, settings):
        assert (await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
        paused = await marketer.post(f"/api/v1/campaigns/{campaign_id}/pause")
        assert paused.status_code == 200, paused.text
        assert paused.json()["status"] == "paused"
        assert (await marketer.post(f"/api/v1/campaigns/{campaign_id}/pause")).json()["status"] == "paused"

        async def settled() -> bool:
            first = await _status_counts(sessions, campaign_id)
            await asyncio.sleep(1.0)
            second = await _status_counts(sessions, campaign_id)
            return first == second and second["total"] == 400

        await eventually(settled, what="enrolment to hold still")
        held = await _status_counts(sessions, campaign_id)
        assert held["pending"] > 0, "the pause came after everyone was enrolled"
        resumed = await marketer.post(f"/api/v1/campaigns/{campaign_id}/resume")
        assert resumed.json()["status"] == "running"

        # Enrolment moves again well within the paused workflow's one-minute look at the database: the signal
        # woke it. How long the rest then takes depends on the machine, so finishing has a wide margin.
        async def moving() -> bool:
            return (await _status_counts(sessions, campaign_id))["pending"] < held["pending"]

        await eventually(moving, timeout=30, what="enrolment to resume on the signal")
        done = await wait_status(marketer, campaign_id, "completed", timeout=300)
        assert done["progress"]["enrolled"] == 400
        assert done["progress"]["pending"] == 0
        await eventually(lambda: _is(count_journeys(temporal_dev.client, campaign_id), 400), what="visibility")
        # Illegal now: the campaign is completed.
        for action in ("pause", "resume"):
            error = assert_error(await marketer.post(f"/api/v1/campaigns/{campaign_id}/{action}"), 409)
            assert error["code"] == "illegal_transition"
            assert error["details"] == {"status": "completed", "action": action}


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def test_cancel_stops_enrolment_and_leaves_started_journeys_running(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, _, _ = await _campaign(marketer, sessions, 300, steps=LONG_WAIT)
    client = temporal_dev.client
    async with running_workers(client, sessions, settings):
        await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")
        await eventually(lambda: _enrolled_some(sessions, campaign_id), what="first enrolments")
        cancelled = await marketer.post(f"/api/v1/campaigns/{campaign_id}/cancel", json={"cancel_journeys": False})
        assert cancelled.json()["status"] == "cancelled"
        await eventually(lambda: _none_pending(sessions, campaign_id), what="pending members cancelled")
        counts = await _status_counts(sessions, campaign_id)
        assert counts["cancelled"] > 0
        assert counts["enrolled"] + counts["cancelled"] == 300
        await eventually(lambda: _is(_running_journeys(client, campaign_id), counts["enrolled"]), what="visibility")
        error = assert_error(await marketer.post(f"/api/v1/campaigns/{campaign_id}/start"), 409, "illegal_transition")
        assert error["details"]["status"] == "cancelled"
        await _cancel_journeys_of(client, campaign_id)


async def _cancel_journeys_of(client: Client, campaign_id: str) -> None:
    """Leave nothing waiting an hour on the shared dev server."""
    async for execution in client.list_workflows(f'CampaignId = "{campaign_id}" AND ExecutionStatus = "Running"'):
        try:
            await client.get_workflow_handle(execution.id).cancel()
        except RPCError:
            pass


async def _enrolled_some(sessions: Sessions, campaign_id: str) -> bool:
    return (await _status_counts(sessions, campaign_id))["enrolled"] >= 20


async def _none_pending(sessions: Sessions, campaign_id: str) -> bool:
    counts = await _status_counts(sessions, campaign_id)
    return counts["total"] > 0 and counts["pending"] == 0


async def test_cancel_with_journeys_cancels_every_started_journey(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, _, _ = await _campaign(marketer, sessions, 40, steps=LONG_WAIT)
    client = temporal_dev.client
    async with running_workers(client, sessions, settings):
        await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")
        # Completed first: the cancel then runs in a workflow started only to clean up.
        await wait_status(marketer, campaign_id, "completed")
        await eventually(lambda: _is(_running_journeys(client, campaign_id), 40), what="journeys waiting")
        response = await marketer.post(f"/api/v1/campaigns/{campaign_id}/cancel", json={"cancel_journeys": True})
        assert response.json()["status"] == "cancelled"
        assert response.json()["cancel_journeys"] is True
        await eventually(lambda: _is(_running_journeys(client, campaign_id), 0), what="journeys cancelled")

        async def runs_cancelled() -> bool:
            async with sessions() as session:
                statuses = (
                    await session.execute(
                        select(JourneyRun.status, func.count())
                        .where(JourneyRun.campaign_id == campaign_id)
                        .group_by(JourneyRun.status)
                    )
                ).all()
            return dict(statuses) == {"cancelled": 40}  # type: ignore[arg-type]

        await eventually(runs_cancelled, what="runs recorded as cancelled")


async def test_start_twice_is_one_run_and_a_rerun_enrols_only_newcomers(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, members, member_tag = await _campaign(marketer, sessions, 30, holdout_percent=10)
    client = temporal_dev.client
    async with running_workers(client, sessions, settings):
        first, second = (
            await marketer.post(f"/api/v1/campaigns/{campaign_id}/start"),
            await marketer.post(f"/api/v1/campaigns/{campaign_id}/start"),
        )
        assert first.status_code == second.status_code == 200
        async with sessions() as session:
            starts = (
                await session.execute(
                    select(func.count())
                    .select_from(TemporalOutbox)
                    .where(TemporalOutbox.workflow_id == f"campaign-{campaign_id}")
                )
            ).scalar_one()
        assert starts == 1
        done = await wait_status(marketer, campaign_id, "completed")
        enrolled_before = done["progress"]["enrolled"]
        newcomers = await add_members(sessions, 12, tags=[member_tag])
        again = await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")
        assert again.json()["status"] == "running"
        await eventually(lambda: _runs_at_least(marketer, campaign_id, 2), what="second run")
        done = await wait_status(marketer, campaign_id, "completed")
        progress = done["progress"]
        assert progress["total"] == 42
        expected_held = {m for m in [*members, *newcomers] if enrolment.bucket_of(campaign_id, m) < 10}
        assert progress["held_out"] == len(expected_held)
        assert progress["enrolled"] == 42 - len(expected_held)
        assert progress["enrolled"] > enrolled_before
        # One journey execution per enrolled member, ever: no id ran twice.
        await eventually(lambda: _is(count_journeys(client, campaign_id), progress["enrolled"]), what="visibility")


async def _runs_at_least(api: ApiClient, campaign_id: str, runs: int) -> bool:
    return bool((await api.get(f"/api/v1/campaigns/{campaign_id}")).json()["runs"] >= runs)


async def test_a_second_campaign_skips_members_already_in_that_journey(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    member_tag = tag()
    await add_members(sessions, 15, tags=[member_tag])
    await add_members(sessions, 5, tags=[member_tag], consent_email=False)
    kind = await add_journey(
        sessions,
        [{"id": "hello", "send": {"channel": "email", "template": "brand_story"}}, *LONG_WAIT],
    )
    segment_id = await add_segment(sessions, member_tag)
    body = {"name": "First", "segment_id": str(segment_id), "journey_kind": kind, "start": True}
    client = temporal_dev.client
    async with running_workers(client, sessions, settings):
        first = (await marketer.post("/api/v1/campaigns", json=body)).json()["id"]
        done = await wait_status(marketer, first, "completed")
        assert done["progress"]["enrolled"] == 15
        assert done["progress"]["skipped"] == {"no_consent": 5}

        async def runs_recorded() -> bool:
            async with sessions() as session:
                count = (
                    await session.execute(
                        select(func.count())
                        .select_from(JourneyRun)
                        .where(JourneyRun.campaign_id == first, JourneyRun.status == "running")
                    )
                ).scalar_one()
            return bool(count == 15)

        await eventually(runs_recorded, what="journey runs recorded")
        second = (await marketer.post("/api/v1/campaigns", json={**body, "name": "Second", "send_cap": 3})).json()
        done = await wait_status(marketer, second["id"], "completed")
        assert done["progress"]["enrolled"] == 0
        assert done["progress"]["skipped"] == {"already_in_journey": 15, "no_consent": 5}
        results = (await marketer.get(f"/api/v1/campaigns/{first}/results")).json()
        assert results["enrolled"] == 15
        await eventually(lambda: _messages_suppressed(marketer, first, 15), what="messages recorded")
        await _cancel_journeys_of(client, first)


async def _messages_suppressed(api: ApiClient, campaign_id: str, count: int) -> bool:
    """These members have no email address: each journey's message is recorded as suppressed."""
    results = (await api.get(f"/api/v1/campaigns/{campaign_id}/results")).json()
    return bool(results["messages"] == {"suppressed": count})


async def test_send_cap_limits_enrolment(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, _, _ = await _campaign(marketer, sessions, 25, send_cap=8)
    async with running_workers(temporal_dev.client, sessions, settings):
        await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")
        done = await wait_status(marketer, campaign_id, "completed")
    assert done["progress"]["enrolled"] == 8
    assert done["progress"]["skipped"] == {"send_cap": 17}
    page = (await marketer.get(f"/api/v1/campaigns/{campaign_id}/members", params={"status": "skipped"})).json()
    assert {m["skip_reason"] for m in page["items"]} == {"send_cap"}


async def test_a_worker_killed_mid_page_never_enrols_anyone_twice(
    marketer: ApiClient,
    sessions: Sessions,
    settings: Settings,
    temporal_dev: WorkflowEnvironment,
    database_url: str,
    repo_root: Any,
) -> None:
    total = 600
    campaign_id, _, _ = await _campaign(marketer, sessions, total)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")},
        "MEMBERFLOW_DATABASE_URL": database_url,
        "MEMBERFLOW_TEMPORAL__ADDRESS": temporal_dev.client.service_client.config.target_host,
        "MEMBERFLOW_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "MEMBERFLOW_CAMPAIGNS__PAGE_SIZE": "100",
    }
    doomed = subprocess.Popen(
        [sys.executable, "-m", "tests.support.campaign_worker"], cwd=repo_root, env=env, stdout=subprocess.PIPE
    )
    try:
        assert doomed.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), timeout=60)
        assert b"worker ready" in ready
        await marketer.post(f"/api/v1/campaigns/{campaign_id}/start")
        handle = temporal_dev.client.get_workflow_handle(f"campaign-{campaign_id}")

        async def page_in_flight() -> bool:
            counts = await _status_counts(sessions, campaign_id)
            if not 0 < counts["enrolled"] < total - 100:
                return False
            try:
                pending = (await handle.describe()).raw_description.pending_activities
            except RPCError:
                return False
            return any(a.activity_type.name == "campaign.enroll" for a in pending)

        await eventually(page_in_flight, what="an enrolment page in flight", timeout=90)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    at_kill = await _status_counts(sessions, campaign_id)
    assert at_kill["pending"] > 0
    async with running_workers(temporal_dev.client, sessions, settings):
        done = await wait_status(marketer, campaign_id, "completed", timeout=120)
    assert done["progress"]["enrolled"] == total
    assert done["progress"]["failed"] == 0
    async with sessions() as session:
        distinct_ids = (
            await session.execute(
                select(func.count(func.distinct(CampaignMember.workflow_id))).where(
                    CampaignMember.campaign_id == uuid.UUID(campaign_id)
                )
            )
        ).scalar_one()
    assert distinct_ids == total
    await eventually(lambda: _is(count_journeys(temporal_dev.client, campaign_id), total), what="visibility")
    assert await _enroll_retried(temporal_dev.client, campaign_id), "the killed page was never retried"


async def _enroll_retried(client: Client, campaign_id: str) -> bool:
    """Some enrolment page ran a second attempt (the first died with its worker), in any run of the chain."""
    async for execution in client.list_workflows(f'WorkflowId = "campaign-{campaign_id}"'):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        scheduled = {
            event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
            for event in history.events
            if event.HasField("activity_task_scheduled_event_attributes")
        }
        for event in history.events:
            started = event.activity_task_started_event_attributes
            if event.HasField("activity_task_started_event_attributes") and started.attempt > 1:
                if scheduled.get(started.scheduled_event_id) == "campaign.enroll":
                    return True
    return False


async def test_start_at_waits_then_enrols(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    start_at = datetime.now(UTC) + timedelta(seconds=4)
    campaign_id, _, _ = await _campaign(marketer, sessions, 5, start_at=start_at.isoformat(), start=True)
    async with running_workers(temporal_dev.client, sessions, settings):
        scheduled = (await marketer.get(f"/api/v1/campaigns/{campaign_id}")).json()
        assert scheduled["status"] == "scheduled"
        done = await wait_status(marketer, campaign_id, "completed", timeout=60)
    assert datetime.fromisoformat(done["started_at"]) >= start_at
    assert done["progress"]["enrolled"] == 5


async def test_recurring_campaign_runs_on_a_schedule_and_enrols_newcomers_only(
    marketer: ApiClient, sessions: Sessions, settings: Settings, temporal_dev: WorkflowEnvironment
) -> None:
    campaign_id, _, member_tag = await _campaign(marketer, sessions, 6, recurrence={"every": {"days": 1}}, start=True)
    client = temporal_dev.client
    schedule = client.get_schedule_handle(f"campaign-schedule-{campaign_id}")
    async with running_workers(client, sessions, settings):
        first = await wait_status(marketer, campaign_id, "scheduled")
        await eventually(lambda: _runs_at_least(marketer, campaign_id, 1), what="first run")
        first = await wait_status(marketer, campaign_id, "scheduled")
        assert first["progress"]["enrolled"] == 6
        description = await schedule.describe()
        assert description.schedule.spec.intervals[0].every == timedelta(days=1)
        await add_members(sessions, 4, tags=[member_tag])
        await schedule.trigger()
        await eventually(lambda: _runs_at_least(marketer, campaign_id, 2), what="scheduled run")
        done = await wait_status(marketer, campaign_id, "scheduled")
        await eventually(lambda: _enrolled(marketer, campaign_id, 10), what="newcomers enrolled")
        cancelled = await marketer.post(f"/api/v1/campaigns/{campaign_id}/cancel")
        assert cancelled.json()["status"] == "cancelled"

        async def schedule_gone() -> bool:
            try:
                await schedule.describe()
            except RPCError:
                return True
            return False

        await eventually(schedule_gone, what="the schedule deleted")
    assert done["runs"] == 2
    await eventually(lambda: _is(count_journeys(client, campaign_id), 10), what="visibility")


async def _enrolled(api: ApiClient, campaign_id: str, count: int) -> bool:
    return bool((await api.get(f"/api/v1/campaigns/{campaign_id}")).json()["progress"]["enrolled"] == count)
