"""Daily ledger maintenance, started by a Temporal Schedule: expire due lots, release stale holds."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.ledger import BatchInput, LedgerActivities
    from workflows.contracts import (
        LEDGER_MAINTENANCE_WORKFLOW,
        STATUS_QUERY,
        BatchStatus,
        MaintenanceInput,
        MaintenanceReport,
    )

from workflows.common import MAINTENANCE_RETRY

BATCH = 500
# Batches per run before continuing as new, so the history stays small on any ledger size.
BATCHES_PER_RUN = 200


@workflow.defn(name=LEDGER_MAINTENANCE_WORKFLOW)
class LedgerMaintenanceWorkflow:
    def __init__(self) -> None:
        self._status = BatchStatus(state="running")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> BatchStatus:
        return self._status

    @workflow.run
    async def run(self, inp: MaintenanceInput) -> MaintenanceReport:
        now = workflow.now()
        lots, holds, skipped = inp.lots_expired, inp.holds_released, 0
        for _ in range(BATCHES_PER_RUN):
            batch = await workflow.execute_activity_method(
                LedgerActivities.expire_due_lots,
                BatchInput(now=now, limit=BATCH),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=MAINTENANCE_RETRY,
            )
            lots += batch.processed
            if batch.processed < BATCH:
                break
        else:
            workflow.continue_as_new(MaintenanceInput(lots_expired=lots, holds_released=holds))
        while True:
            released = await workflow.execute_activity_method(
                LedgerActivities.release_expired_holds,
                BatchInput(now=now, limit=BATCH),
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=MAINTENANCE_RETRY,
            )
            holds += released.processed
            skipped += released.failed
            if released.processed + released.failed < BATCH:
                break
        report = MaintenanceReport(lots_expired=lots, holds_released=holds, holds_skipped=skipped)
        self._status = BatchStatus(state="done", report=report.model_dump())
        return report
