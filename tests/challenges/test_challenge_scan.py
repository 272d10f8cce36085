"""The enrolment of every member when a challenge's window opens: the scan joins each member once per window
and never an erased one (in a transaction rolled back at the end, since it reaches every member of the shared
database); the worker's daily Schedule runs it, checked against the dev server."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleActionResult, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import Member, MemberChallenge, TemporalOutbox
from services import challenges
from tests.support.challenges import Sessions, own_challenge
from tests.support.helpers import ApiClient, new_member_id
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from worker import CHALLENGE_SCAN_SCHEDULE_ID, build_worker, ensure_schedules
from workflows import contracts


def _dates(start: date) -> dict[str, object]:
    return {
        "title_en": "Spend 500 in the sale",
        "title_zh_cn": "大促消费满500",
        "enrolment": "window_start",
        "window": {"kind": "dates", "start": start.isoformat(), "end": (start + timedelta(days=9)).isoformat()},
        "goals": [{"kind": "spend", "target": "500"}],
        "reward": {"points": 200},
    }


async def test_the_scan_joins_every_member_once_when_the_window_opens(shop: ApiClient, sessions: Sessions) -> None:
    today = datetime.now(UTC).date()
    member_id = uuid.UUID(await new_member_id(shop))
    erased_id = uuid.UUID(await new_member_id(shop))
    async with own_challenge(sessions, _dates(today)) as challenge, sessions() as session:
        erased = await session.get(Member, erased_id)
        assert erased is not None
        erased.erased_at = datetime.now(UTC)
        await session.flush()
        members = (await session.execute(select(func.count()).where(Member.erased_at.is_(None)))).scalar_one()

        assert await challenges.enrol_due(session, today - timedelta(days=1), task_queue="tq") == {}
        enrolled = await challenges.enrol_due(session, today, task_queue="tq", page_size=500)
        assert enrolled == {challenge.code: members}
        runs = (
            (await session.execute(select(MemberChallenge).where(MemberChallenge.challenge_id == challenge.id)))
            .scalars()
            .all()
        )
        by_member = {run.member_id: run for run in runs}
        assert len(runs) == members
        assert erased_id not in by_member
        mine = by_member[member_id]
        midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
        assert (mine.window_start, mine.deadline, mine.status) == (midnight, midnight + timedelta(days=10), "active")
        assert mine.progress == [{"kind": "spend", "target": "500", "value": "0", "met": False}]
        member = await session.get(Member, member_id, populate_existing=True)
        assert member is not None
        assert member.challenges_until == midnight + timedelta(days=10)
        starts = await session.execute(
            select(func.count()).where(TemporalOutbox.workflow_id.like(f"challenge-{challenge.id}-%"))
        )
        assert starts.scalar_one() == members
        assert await challenges.enrol_due(session, today, task_queue="tq") == {challenge.code: 0}  # once
        await session.rollback()  # nobody else's run, start or erasure stays


async def test_the_daily_schedule_runs_the_scan(
    temporal_dev: WorkflowEnvironment, sessions: Sessions, settings: Settings, task_queue: str
) -> None:
    client = temporal_dev.client
    await ensure_schedules(client, settings)
    await ensure_schedules(client, settings)  # a second worker start updates, never duplicates
    handle = client.get_schedule_handle(CHALLENGE_SCAN_SCHEDULE_ID)
    action = (await handle.describe()).schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (contracts.CHALLENGE_SCAN_WORKFLOW, task_queue)
    async with build_worker(client, sessions, task_queue):
        await handle.trigger()  # no window_start challenge is switched on here: the scan enrols no one

        async def recent() -> list[ScheduleActionResult]:
            return list((await handle.describe()).info.recent_actions)

        run = (await value_when(recent, bool, what="the scan's start"))[-1]
        assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
        scan = client.get_workflow_handle(run.action.workflow_id, result_type=contracts.ChallengeScanReport)
        assert await scan.result() == contracts.ChallengeScanReport(enrolled={})
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
            (HISTORIES / "challenge_scan.json").write_text((await scan.fetch_history()).to_json())
