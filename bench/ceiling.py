"""The ceiling workflow of the journey benchmark: a journey's shape with nothing of ours in it (a start, then two
activities that do nothing), as the issue measured it. Its worker CPU per run is the yardstick."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

CEILING_WORKFLOW = "BenchCeiling"


@activity.defn(name="bench.noop")
async def noop(step: str) -> str:
    return step


@workflow.defn(name=CEILING_WORKFLOW)
class CeilingWorkflow:
    @workflow.run
    async def run(self, member_id: str) -> str:
        for step in ("first", "second"):
            await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))
        return member_id
