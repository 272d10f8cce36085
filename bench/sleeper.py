"""The raw Temporal loop that bench/worker.py measures the journey against: a trivial workflow with one timer
(no activity, no search attribute, no database), so its cost is the SDK's and the server's alone."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

SLEEPER_WORKFLOW = "BenchSleeper"


@workflow.defn(name=SLEEPER_WORKFLOW)
class SleeperWorkflow:
    @workflow.run
    async def run(self, seconds: int) -> str:
        await workflow.sleep(timedelta(seconds=seconds))
        return "woke"
