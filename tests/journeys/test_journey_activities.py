"""The begin and record activities, which every journey runs once per wait: they talk to the database on an
autocommit connection, so what they write must be there without a commit, and an unknown journey must fail the
run for good instead of being retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.journeys import BeginInput, JourneyActivities, ProgressInput
from models import JourneyRun
from services import journeys
from services.platform.audit import Actor

Sessions = async_sessionmaker[AsyncSession]


async def _journey(sessions: Sessions) -> str:
    kind = f"t_begin_{uuid.uuid4().hex[:8]}"
    raw = {"kind": kind, "name": "Test: wait, then exit", "steps": [
        {"id": "nap", "wait": {"days": 1}}, {"id": "done", "exit": {}}]}  # fmt: skip
    async with sessions() as session:
        await journeys.create(session, journeys.parse(raw), actor=Actor.system("test"))
        await session.commit()
    return kind


def _begin(kind: str, *, version: int | None = None) -> BeginInput:
    run = uuid.uuid4().hex
    return BeginInput(
        kind=kind,
        version=version,
        run_id=run,
        workflow_id=f"journey-{kind}-{run}",
        member_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
    )


async def _row(sessions: Sessions, run_id: str) -> JourneyRun:
    async with sessions() as session:
        return (await session.execute(select(JourneyRun).where(JourneyRun.run_id == run_id))).scalar_one()


async def test_begin_loads_the_current_version_and_records_the_first_step(sessions: Sessions) -> None:
    kind = await _journey(sessions)
    inp = _begin(kind)
    loaded = await ActivityEnvironment().run(JourneyActivities(sessions).begin, inp)
    assert loaded.version == 1
    assert [step["id"] for step in loaded.definition["steps"]] == ["nap", "done"]
    row = await _row(sessions, inp.run_id)
    assert (row.kind, row.version, row.status, row.current_step) == (kind, 1, "running", "nap")
    assert [entry["step"] for entry in row.steps] == ["nap"]


async def test_record_appends_the_steps_passed_and_ends_the_run(sessions: Sessions) -> None:
    kind = await _journey(sessions)
    activities = JourneyActivities(sessions)
    inp = _begin(kind)
    await ActivityEnvironment().run(activities.begin, inp)
    ended = inp.at + timedelta(days=1)
    progress = ProgressInput(
        run_id=inp.run_id,
        workflow_id=inp.workflow_id,
        member_id=inp.member_id,
        kind=kind,
        version=1,
        campaign_id=None,
        step="done",
        status="completed",
        at=ended,
        passed=["nap"],
    )
    await ActivityEnvironment().run(activities.record, progress)
    row = await _row(sessions, inp.run_id)
    assert (row.status, row.current_step, row.ended_at) == ("completed", "done", ended)
    assert [entry["step"] for entry in row.steps] == ["nap", "nap", "done"]


@pytest.mark.parametrize("version", [None, 7])
async def test_begin_of_an_unknown_journey_or_version_fails_for_good(sessions: Sessions, version: int | None) -> None:
    kind = await _journey(sessions) if version else f"t_missing_{uuid.uuid4().hex[:8]}"
    inp = _begin(kind, version=version)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(JourneyActivities(sessions).begin, inp)
    assert caught.value.type == "UnknownJourney"
    assert caught.value.non_retryable
    async with sessions() as session:
        assert (await session.execute(select(JourneyRun).where(JourneyRun.run_id == inp.run_id))).first() is None
