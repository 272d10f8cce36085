"""The bulk history import: its chunks one after another (each an idempotent activity that writes a few
thousand rows with bulk statements), then the expiry of points already past their date.

The workflow keeps only chunk ids; the rows, counts and bad rows live in the database, written by the
activity in the same transaction as the rows, so a crash anywhere resumes at the first chunk not done."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import BULK_IMPORT_WORKFLOW, STATUS_QUERY
    from workflows.contracts.imports import (
        ChunkList,
        ChunkOutcome,
        ChunkRef,
        FinishOutcome,
        ImportInput,
        ImportRef,
        ImportStatus,
    )

# Activity names (the activities live in activities/imports.py; the workflow calls them by name).
LIST_CHUNKS = "imports.list_chunks"
RUN_CHUNK = "imports.run_chunk"
FINISH = "imports.finish"
# A chunk of 5,000 rows takes a second or two; a worker that dies mid-chunk is retried after this.
CHUNK_TIMEOUT = timedelta(minutes=2)
FINISH_TIMEOUT = timedelta(minutes=10)
# A chunk that fails for a reason of the database (not a bad row: those are recorded) is retried without end:
# the import waits for the database rather than skipping history.
CHUNK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Chunks per run before continuing as new, so the history stays small for any file size.
CHUNKS_PER_RUN = 500


@workflow.defn(name=BULK_IMPORT_WORKFLOW)
class BulkImportWorkflow:
    def __init__(self) -> None:
        self._status = ImportStatus(state="running")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ImportStatus:
        return self._status

    @workflow.run
    async def run(self, inp: ImportInput) -> FinishOutcome:
        remaining = inp.remaining
        if remaining is None:
            listed = await workflow.execute_activity(
                LIST_CHUNKS,
                ImportRef(import_id=inp.import_id),
                result_type=ChunkList,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=CHUNK_RETRY,
            )
            remaining = listed.chunk_ids
        self._status = ImportStatus(state="running", chunks_total=len(remaining))
        for done, chunk_id in enumerate(remaining):
            if done == CHUNKS_PER_RUN:
                workflow.continue_as_new(ImportInput(import_id=inp.import_id, remaining=remaining[done:]))
            await workflow.execute_activity(
                RUN_CHUNK,
                ChunkRef(chunk_id=chunk_id),
                result_type=ChunkOutcome,
                start_to_close_timeout=CHUNK_TIMEOUT,
                retry_policy=CHUNK_RETRY,
            )
            self._status = ImportStatus(state="running", chunks_done=done + 1, chunks_total=len(remaining))
        self._status = ImportStatus(state="finishing", chunks_done=len(remaining), chunks_total=len(remaining))
        outcome: FinishOutcome = await workflow.execute_activity(
            FINISH,
            ImportRef(import_id=inp.import_id),
            result_type=FinishOutcome,
            start_to_close_timeout=FINISH_TIMEOUT,
            retry_policy=CHUNK_RETRY,
        )
        self._status = ImportStatus(state="completed", chunks_done=len(remaining), chunks_total=len(remaining))
        return outcome
