"""A monthly challenge's runs: each month's run has its own workflow id, so January's start is never taken for
December's run still closing (a start with the same id would be dropped as already running)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows import contracts

CHALLENGE, MEMBER = "0192f0aa-0000-7000-8000-000000000001", "0192f0aa-0000-7000-8000-000000000002"


def _run(window_start: datetime | None) -> contracts.ChallengeInput:
    return contracts.ChallengeInput(
        member_challenge_id="0192f0aa-0000-7000-8000-000000000003",
        challenge_id=CHALLENGE,
        member_id=MEMBER,
        deadline=datetime(2027, 2, 1, tzinfo=UTC),
        window_start=window_start,
    )


def test_each_month_of_a_challenge_is_a_workflow_of_its_own() -> None:
    december = contracts.challenge_start(_run(datetime(2026, 12, 1, tzinfo=UTC)), task_queue="q")
    january = contracts.challenge_start(_run(datetime(2027, 1, 1, tzinfo=UTC)), task_queue="q")
    assert (december.id, january.id) == (
        f"challenge-{CHALLENGE}-{MEMBER}-20261201",
        f"challenge-{CHALLENGE}-{MEMBER}-20270101",
    )
    progress = contracts.ChallengeProgressSignal(event="order_completed", goals_met=False)
    signal = contracts.challenge_progress_signal(CHALLENGE, MEMBER, datetime(2027, 1, 1, tzinfo=UTC), progress)
    assert signal.workflow_id == january.id


def test_a_new_run_without_its_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        contracts.challenge_start(_run(None), task_queue="q")
