"""Campaigns on a clock: a start time waited for, and recurring runs on a Temporal Schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support.campaigns import Sessions, add_members, count_journeys, eventually, running_workers, wait_status
from tests.support.campaigns import create_campaign as _campaign
from tests.support.campaigns import resolves_to as _is
from tests.support.campaigns import runs_at_least as _runs_at_least
from tests.support.helpers import ApiClient


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
