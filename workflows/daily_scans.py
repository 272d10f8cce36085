"""The daily scans, started by the worker's Temporal Schedules: one implementation, two registered types
(their names are in running schedules and saved histories). `DailyScanWorkflow` starts the birthday and
win-back journeys due today; `RuleScanWorkflow` fires the rules' birthday and inactivity triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.journeys import ScanActivities, ScanInput
    from activities.rules import RuleActivities, RuleScanInput
    from workflows.contracts import (
        JOURNEY_SCAN_WORKFLOW,
        RULE_SCAN_WORKFLOW,
        STATUS_QUERY,
        BatchStatus,
        DailyScanInput,
        DailyScanReport,
        RuleScanReport,
        RuleScanWorkflowInput,
    )

from workflows.common import SCAN_RETRY, SCAN_TIMEOUT

ScanInputT = TypeVar("ScanInputT", ScanInput, RuleScanInput)
ResultT = TypeVar("ResultT")


class _Scan:
    """What both scans do: one activity over today's date, on the scan's own task queue."""

    def __init__(self) -> None:
        self._status = BatchStatus(state="running")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> BatchStatus:
        return self._status

    async def _scan(
        self, activity: Callable[[Any, ScanInputT], Awaitable[ResultT]], input_type: type[ScanInputT]
    ) -> ResultT:
        return await workflow.execute_activity_method(
            activity,
            input_type(today=workflow.now().date(), task_queue=workflow.info().task_queue),
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=SCAN_RETRY,
        )

    def _done(self, report: DailyScanReport | RuleScanReport) -> None:
        self._status = BatchStatus(state="done", report=report.model_dump())


@workflow.defn(name=JOURNEY_SCAN_WORKFLOW)
class DailyScanWorkflow(_Scan):
    @workflow.run
    async def run(self, _: DailyScanInput) -> DailyScanReport:
        result = await self._scan(ScanActivities.daily_scan, ScanInput)
        report = DailyScanReport(started=result.started)
        self._done(report)
        return report


@workflow.defn(name=RULE_SCAN_WORKFLOW)
class RuleScanWorkflow(_Scan):
    @workflow.run
    async def run(self, _: RuleScanWorkflowInput) -> RuleScanReport:
        result = await self._scan(RuleActivities.daily_scan, RuleScanInput)
        report = RuleScanReport(fired=result.fired)
        self._done(report)
        return report
