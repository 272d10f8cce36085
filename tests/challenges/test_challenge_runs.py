"""Challenges end to end on the time-skipping test server, with the real worker: members join (at sign-up or by
opting in) some days ago, the shop reports events through the API, the progress recorded in Postgres moves and
the run's workflow settles: paid once with its badge, or failed at the deadline with nothing paid."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import MemberChallenge
from services import challenges
from tests.support.challenges import (
    Sessions,
    badges_of,
    days_ago,
    deliver,
    event,
    member_joined,
    order,
    own_challenge,
    reward_postings,
    run_of,
    status_is,
    values,
)
from tests.support.helpers import ApiClient
from tests.support.ledger import assert_ledger_ok
from tests.support.temporal import HISTORIES
from tests.support.waiting import value_when
from workflows import contracts

pytestmark = pytest.mark.time_skipping

STARTER: dict[str, Any] = {
    "title_en": "Starter pack",
    "title_zh_cn": "新手礼包",
    "enrolment": "signup",
    "window": {"kind": "relative", "days": 14},
    "goals": [
        {"kind": "profile_completed"},
        {"kind": "order_count", "target": "1"},
        {"kind": "checkin_days", "target": "3"},
    ],
    "reward": {"points": 300},
    "badge": {"code": "starter_t", "name_en": "Off to a good start", "name_zh_cn": "新手上路", "icon": "rocket"},
}
STREAK: dict[str, Any] = {
    "title_en": "Seven days in a row",
    "title_zh_cn": "连续签到7天",
    "enrolment": "opt_in",
    "window": {"kind": "relative", "days": 30},
    "goals": [{"kind": "checkin_streak", "target": "7"}],
    "reward": {"points": 70},
    "badge": {"code": "on_fire_t", "name_en": "On fire", "name_zh_cn": "连签达人", "icon": "flame"},
}


def _handle(env: WorkflowEnvironment, run: MemberChallenge) -> Any:
    workflow_id = contracts.challenge_workflow_id(str(run.challenge_id), str(run.member_id), run.window_start)
    return env.client.get_workflow_handle(workflow_id, result_type=contracts.SettleOutcome)


async def test_a_starter_pack_completed_on_day_ten_pays_once_with_its_badge(
    shop: ApiClient, workers: list[Worker], sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with own_challenge(sessions, STARTER) as challenge:
        member_id = await member_joined(sessions, temporal_env.client, task_queue, days=10)
        run = await run_of(sessions, challenge.id, member_id)
        assert (run.status, values(run)) == ("active", ["0", "0", "0"])
        assert run.deadline - run.window_start == timedelta(days=14)

        await event(shop, member_id, "profile_completed", days=9)
        await order(shop, member_id, days=8)
        await event(shop, member_id, "checked_in", days=7)
        await event(shop, member_id, "checked_in", days=7.01)  # the same day again: still one day
        await event(shop, member_id, "checked_in", days=4)
        run = await run_of(sessions, challenge.id, member_id)
        assert (run.status, values(run)) == ("active", ["1", "1", "2"])
        assert await reward_postings(sessions, run.id) == []

        await event(shop, member_id, "checked_in", days=0.01)  # day ten of the window: the third day
        run = await value_when(lambda: run_of(sessions, challenge.id, member_id), status_is("completed"))
        assert values(run) == ["1", "1", "3"]
        outcome = await _handle(temporal_env, run).result()
        assert outcome == contracts.SettleOutcome(status="completed", points=300, badge="starter_t")
        # Settled runs answer what they became and pay nothing again, however often asked.
        async with sessions() as session:
            again = await challenges.settle(session, run.id, deadline_passed=True)
            await session.commit()
        assert again == outcome
        assert await reward_postings(sessions, run.id) == [300]
        assert await badges_of(sessions, member_id) == ["starter_t"]
        history = (await _handle(temporal_env, run).fetch_history()).to_json()
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
            (HISTORIES / "challenge_completed.json").write_text(history)
    await assert_ledger_ok(sessions)


async def test_a_missed_deadline_fails_the_run_and_pays_nothing(
    shop: ApiClient, workers: list[Worker], sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with own_challenge(sessions, STARTER) as challenge:
        member_id = await member_joined(sessions, temporal_env.client, task_queue, days=12)
        await order(shop, member_id, days=11)
        await event(shop, member_id, "checked_in", days=10)
        run = await run_of(sessions, challenge.id, member_id)
        assert (run.status, values(run)) == ("active", ["0", "1", "1"])

        await temporal_env.sleep(timedelta(days=3))  # past the deadline, two days from now
        outcome = await _handle(temporal_env, run).result()
        assert outcome == contracts.SettleOutcome(status="failed")
        run = await run_of(sessions, challenge.id, member_id)
        assert run.status == "failed"
        assert run.ended_at is not None
        assert await reward_postings(sessions, run.id) == []
        assert await badges_of(sessions, member_id) == []
        if os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
            history = (await _handle(temporal_env, run).fetch_history()).to_json()
            (HISTORIES / "challenge_failed.json").write_text(history)
    await assert_ledger_ok(sessions)


async def test_a_streak_broken_on_day_four_starts_again(
    shop: ApiClient, workers: list[Worker], sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with own_challenge(sessions, STREAK) as challenge:
        member_id = await member_joined(sessions, temporal_env.client, task_queue, days=25)
        async with sessions() as session:
            _, joined = await challenges.opt_in(
                session, challenge.id, member_id, task_queue=task_queue, now=days_ago(20.5)
            )
            await deliver(sessions, temporal_env.client, session)
        assert joined
        for day in (20, 19, 18):
            await event(shop, member_id, "checked_in", days=day)
        run = await run_of(sessions, challenge.id, member_id)
        assert (values(run), run.progress[0]["best"]) == (["3"], 3)
        await event(shop, member_id, "checked_in", days=16)  # day 17 missed: the run restarts at one
        run = await run_of(sessions, challenge.id, member_id)
        assert (run.status, values(run), run.progress[0]["best"]) == ("active", ["1"], 3)
        for day in (15, 14, 13, 12, 11):
            await event(shop, member_id, "checked_in", days=day)
        run = await run_of(sessions, challenge.id, member_id)
        assert (run.status, values(run)) == ("active", ["6"])
        assert await reward_postings(sessions, run.id) == []

        await event(shop, member_id, "checked_in", days=10)  # the seventh day in a row
        run = await value_when(lambda: run_of(sessions, challenge.id, member_id), status_is("completed"))
        assert (values(run), run.progress[0]["best"]) == (["7"], 7)
        assert await reward_postings(sessions, run.id) == [70]
        assert await badges_of(sessions, member_id) == ["on_fire_t"]
    await assert_ledger_ok(sessions)


async def test_duplicate_completion_signals_and_settle_retries_pay_once(
    shop: ApiClient, workers: list[Worker], sessions: Sessions, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with own_challenge(sessions, STARTER | {"goals": [{"kind": "order_count", "target": "1"}]}) as challenge:
        member_id = await member_joined(sessions, temporal_env.client, task_queue, days=3)
        run = await run_of(sessions, challenge.id, member_id)
        handle = _handle(temporal_env, run)
        await order(shop, member_id, days=1)  # goals met: its own signal is on its way

        async def settle_as_a_retry() -> contracts.SettleOutcome:
            async with sessions() as session:
                outcome = await challenges.settle(session, run.id, deadline_passed=False)
                await session.commit()
                return outcome

        async def signal_again() -> str:
            """A redelivered completion signal; the run may have settled already (then it is gone, as the
            outbox finds a closed run)."""
            met = contracts.ChallengeProgressSignal(event="order_completed", goals_met=True)
            try:
                await handle.signal(contracts.CHALLENGE_PROGRESS_SIGNAL, met)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                return "closed"
            return "delivered"

        # With an event of the member's at the same moment: both lock the member, then the run (no deadlock).
        results = await asyncio.gather(
            signal_again(),
            signal_again(),
            settle_as_a_retry(),
            settle_as_a_retry(),
            settle_as_a_retry(),
            event(shop, member_id, "checked_in", days=0.01),
        )
        paid = contracts.SettleOutcome(status="completed", points=300, badge="starter_t")
        assert list(results[2:5]) == [paid, paid, paid]
        assert await handle.result() == paid
        assert await reward_postings(sessions, run.id) == [300]
        assert await badges_of(sessions, member_id) == ["starter_t"]
    await assert_ledger_ok(sessions)
