"""Campaign lifecycle on a real Temporal dev server: pause/resume, illegal transitions, cancel, starting twice."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import JourneyRun, TemporalOutbox
from services.campaigns import enrolment
from tests.support.campaigns import (
    LONG_WAIT,
    Sessions,
    add_members,
    count_journeys,
    eventually,
    running_workers,
    wait_status,
)
from tests.support.campaigns import cancel_journeys_of as _cancel_journeys_of
from tests.support.campaigns import create_campaign as _campaign
from tests.support.campaigns import resolves_to as _is
from tests.support.campaigns import runs_at_least as _runs_at_least
from tests.support.campaigns import status_counts as _status_counts
from tests.support.helpers import ApiClient, assert_error


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
        # Two starts in flight at once (the row lock orders them): one run, whichever came first.
        first, second = await asyncio.gather(
            marketer.post(f"/api/v1/campaigns/{campaign_id}/start"),
            marketer.post(f"/api/v1/campaigns/{campaign_id}/start"),
        )
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        assert first.json()["status"] == second.json()["status"] == "running"
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
        held_before = {m for m in members if enrolment.bucket_of(campaign_id, m) < 10}
        assert (enrolled_before, done["progress"]["held_out"]) == (30 - len(held_before), len(held_before))
        await eventually(lambda: _is(count_journeys(client, campaign_id), enrolled_before), what="one journey each")
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
