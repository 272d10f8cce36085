"""The bulk import's contract: its workflow name, id, input and status, and the activity inputs and outputs.
Kept apart from the other contracts so the import needs nothing else; ids only, never a row's content."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import BULK_IMPORT_WORKFLOW
from workflows.contracts.starts import WorkflowStart


def import_workflow_id(import_id: uuid.UUID | str) -> str:
    return f"import-{import_id}"


class ImportInput(BaseModel):
    import_id: uuid.UUID
    # After a continue-as-new: the chunks this run has left to do (None: ask the database).
    remaining: list[int] | None = None


class ImportStatus(BaseModel):
    """What the workflow's status query answers; the counts themselves are in the database."""

    state: str  # running, finishing, completed
    chunks_done: int = 0
    chunks_total: int = 0


class ChunkRef(BaseModel):
    chunk_id: int


class ChunkOutcome(BaseModel):
    imported: int
    skipped: int
    failed: int


class ImportRef(BaseModel):
    import_id: uuid.UUID


class ChunkList(BaseModel):
    chunk_ids: list[int]


class FinishOutcome(BaseModel):
    lots_expired: int


def bulk_import_start(import_id: uuid.UUID, *, task_queue: str) -> WorkflowStart:
    """One run per import: a second start of the same import finds the first."""
    return WorkflowStart(
        workflow=BULK_IMPORT_WORKFLOW,
        id=import_workflow_id(import_id),
        input=ImportInput(import_id=import_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
