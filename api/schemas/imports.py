"""Bulk import shapes: the import with its progress and counts per kind, and an uploaded file."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.imports import DEFAULT_CHUNK_ROWS, ImportProgress


class ImportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, ge=1, le=20_000, description="rows per chunk (activity)")


class KindCountsOut(BaseModel):
    rows: int
    done: int
    imported: int
    skipped: int = Field(description="already there: a re-run, or a repeat of an earlier chunk")
    failed: int = Field(description="bad rows, listed in the error file")


class ImportOut(BaseModel):
    id: uuid.UUID
    state: str = Field(description="open (taking files), queued, running, completed, failed")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows: int
    rows_done: int
    percent: int
    chunks_total: int
    chunks_done: int
    lots_expired: int = Field(description="points lots already past their expiry, expired by the import")
    counts: dict[str, KindCountsOut]
    errors_url: str
    error: str | None

    @classmethod
    def of(cls, progress: ImportProgress) -> ImportOut:
        return cls(
            id=progress.id,
            state=progress.state,
            created_by=progress.created_by,
            created_at=progress.created_at,
            started_at=progress.started_at,
            finished_at=progress.finished_at,
            rows=progress.rows,
            rows_done=progress.rows_done,
            percent=progress.percent,
            chunks_total=progress.chunks_total,
            chunks_done=progress.chunks_done,
            lots_expired=progress.lots_expired,
            counts={kind: KindCountsOut(**vars(counts)) for kind, counts in progress.kinds.items()},
            errors_url=f"/api/v1/imports/{progress.id}/errors",
            error=progress.error,
        )


class ImportFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    import_id: uuid.UUID
    kind: str
    format: str
    name: str
    rows: int
