"""Campaign enrolment: a second campaign over the same members, the send cap, a worker killed mid-page."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import CampaignMember, JourneyRun
from tests.support.campaigns import (
    LONG_WAIT,
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
from tests.support.campaigns import cancel_journeys_of as _cancel_journeys_of
from tests.support.campaigns import create_campaign as _campaign
from tests.support.campaigns import resolves_to as _is
from tests.support.campaigns import status_counts as _status_counts
from tests.support.codec import codec_env
from tests.support.helpers import ApiClient


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
        # Pages of 10 started two at a time (the API's `campaign_tuning`), each start 500 ms late on the doomed
        # worker: a page takes about 2.5 s there, so the kill below, which follows the page's first heartbeat by
        # a few milliseconds, always lands inside the page instead of racing its end.
        "CAMPAIGN_WORKER_START_DELAY": "0.5",
        **codec_env(settings.temporal),
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
            # Started and heartbeating on the doomed worker: the page's journeys are being started right now.
            # A scheduled activity that no worker has picked up yet would not prove anything when it is killed.
            return any(
                a.activity_type.name == "campaign.enroll"
                and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                and a.attempt == 1
                and a.HasField("last_heartbeat_time")
                for a in pending
            )

        await eventually(page_in_flight, what="an enrolment page in flight", timeout=90)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    at_kill = await _status_counts(sessions, campaign_id)
    assert at_kill["pending"] > 0
    async with running_workers(temporal_dev.client, sessions, settings):
        # A safety net, not a measurement: the rest of the 600 enrol at the machine's pace (about 6 a second on
        # a loaded 2-core machine), after the dead attempt's 10 s heartbeat timeout.
        done = await wait_status(marketer, campaign_id, "completed", timeout=300)
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
