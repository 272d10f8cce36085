"""One member's run of one challenge (`challenge-{challenge}-{member}`): wait for a progress signal saying
every goal is met, or for the deadline, then settle through one activity. The progress itself is measured and
stored in Postgres by the event's transaction; the settle activity measures again under the run's lock and
pays once, so a duplicate signal or a retried activity cannot pay twice. Ids and a deadline only."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.challenges import ChallengeActivities, EnrolDueInput
    from workflows.contracts import (
        CHALLENGE_PROGRESS_SIGNAL,
        CHALLENGE_SCAN_WORKFLOW,
        CHALLENGE_WORKFLOW,
        STATUS_QUERY,
        BatchStatus,
        ChallengeInput,
        ChallengeProgressSignal,
        ChallengeScanInput,
        ChallengeScanReport,
        ChallengeStatus,
        SettleInput,
        SettleOutcome,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, SCAN_RETRY, SCAN_TIMEOUT


@workflow.defn(name=CHALLENGE_WORKFLOW)
class ChallengeWorkflow:
    def __init__(self) -> None:
        self._status = ChallengeStatus(state="active")
        self._met = False

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ChallengeStatus:
        return self._status

    @workflow.signal(name=CHALLENGE_PROGRESS_SIGNAL)
    def progress(self, signal: ChallengeProgressSignal) -> None:
        self._met = self._met or signal.goals_met
        self._status = ChallengeStatus(state="active", goals_met=self._met, signals=self._status.signals + 1)

    @workflow.run
    async def run(self, inp: ChallengeInput) -> SettleOutcome:
        self._met = inp.met_at_start
        while True:
            remaining = inp.deadline - workflow.now()
            passed = remaining <= timedelta(0)
            if not passed:
                try:
                    await workflow.wait_condition(lambda: self._met, timeout=remaining)
                except TimeoutError:
                    passed = True
            outcome = await self._settle(inp, deadline_passed=passed)
            if outcome.status != "active":
                self._status = ChallengeStatus(state=outcome.status, goals_met=self._met, signals=self._status.signals)
                return outcome
            self._met = False  # measured again and not met yet: wait for the next signal

    async def _settle(self, inp: ChallengeInput, *, deadline_passed: bool) -> SettleOutcome:
        return await workflow.execute_activity_method(
            ChallengeActivities.settle,
            SettleInput(member_challenge_id=inp.member_challenge_id, deadline_passed=deadline_passed),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )


@workflow.defn(name=CHALLENGE_SCAN_WORKFLOW)
class ChallengeScanWorkflow:
    """Daily, from the worker's Schedule: join members to the challenge windows opening today (UTC)."""

    def __init__(self) -> None:
        self._status = BatchStatus(state="running")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> BatchStatus:
        return self._status

    @workflow.run
    async def run(self, inp: ChallengeScanInput) -> ChallengeScanReport:
        day = inp.day or workflow.now().date()
        result = await workflow.execute_activity_method(
            ChallengeActivities.enrol_due,
            EnrolDueInput(day=day, task_queue=workflow.info().task_queue),
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=SCAN_RETRY,
        )
        report = ChallengeScanReport(enrolled=result.enrolled)
        self._status = BatchStatus(state="done", report=report.model_dump())
        return report
