"""Daily ledger maintenance, started by a Temporal Schedule: expire due lots, release stale holds."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.ledger import BatchInput, LedgerActivities

BATCH = 500
# Batches per run before continuing as new, so the history stays small on any ledger size.
BATCHES_PER_RUN = 200
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))


class MaintenanceInput(BaseModel):
    lots_expired: int = 0
    holds_released: int = 0


class MaintenanceReport(BaseModel):
    lots_expired: int
    holds_released: int
    holds_skipped: int


@workflow.defn
class LedgerMaintenanceWorkflow:
    @workflow.run
    async def run(self, inp: MaintenanceInput) -> MaintenanceReport:
        now = workflow.now()
        lots, holds, skipped = inp.lots_expired, inp.holds_released, 0
        for _ in range(BATCHES_PER_RUN):
            batch = await workflow.execute_activity_method(
                LedgerActivities.expire_due_lots,
                BatchInput(now=now, limit=BATCH),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRY,
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
                retry_policy=RETRY,
            )
            holds += released.processed
            skipped += released.failed
            if released.processed + released.failed < BATCH:
                break
        return MaintenanceReport(lots_expired=lots, holds_released=holds, holds_skipped=skipped)
