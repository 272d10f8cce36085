"""The rules' daily scan, started by the `rules-daily-scan` Temporal Schedule: birthdays and inactivity."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.rules import RuleActivities, RuleScanInput


class RuleScanWorkflowInput(BaseModel):
    pass


class RuleScanReport(BaseModel):
    fired: dict[str, int]


@workflow.defn
class RuleScanWorkflow:
    @workflow.run
    async def run(self, _: RuleScanWorkflowInput) -> RuleScanReport:
        result = await workflow.execute_activity_method(
            RuleActivities.daily_scan,
            RuleScanInput(today=workflow.now().date(), task_queue=workflow.info().task_queue),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5)),
        )
        return RuleScanReport(fired=result.fired)
