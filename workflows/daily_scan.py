"""The daily scan, started by a Temporal Schedule: starts birthday and win-back journeys due today."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.journeys import ScanActivities, ScanInput


class DailyScanInput(BaseModel):
    pass


class DailyScanReport(BaseModel):
    started: dict[str, int]


@workflow.defn
class DailyScanWorkflow:
    @workflow.run
    async def run(self, _: DailyScanInput) -> DailyScanReport:
        result = await workflow.execute_activity_method(
            ScanActivities.daily_scan,
            ScanInput(today=workflow.now().date(), task_queue=workflow.info().task_queue),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5)),
        )
        return DailyScanReport(started=result.started)
