"""Running an import: one chunk at a time (what the workflow's activity calls), and the finish.

A chunk is locked, written and marked done in one transaction, so running it again (a retried activity, a
worker that died after the commit) returns what the first run recorded and writes nothing."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from models import Import, ImportChunk, ImportFile
from services.imports import events, members, orders, store
from services.imports.bulk import Written
from services.imports.rows import BadRow, Format, Kind, RecordError, csv_record, jsonl_record, validate
from services.loyalty import ledger


@dataclass(frozen=True)
class ChunkResult:
    imported: int
    skipped: int
    failed: int


def _parse(kind: Kind, file: ImportFile, body: str) -> tuple[list[tuple[int, Any]], list[BadRow]]:
    valid: list[tuple[int, Any]] = []
    bad: list[BadRow] = []
    for line, raw in json.loads(body):
        try:
            record = csv_record(file.header or [], raw) if file.format == Format.CSV else jsonl_record(raw)
        except RecordError as exc:
            bad.append(BadRow(line, exc.field, exc.reason))
            continue
        checked = validate(kind, line, record)
        if isinstance(checked, BaseModel):
            valid.append((line, checked))
        else:
            bad.extend(checked)
    return valid, bad


async def _write(session: AsyncSession, kind: Kind, rows: list[tuple[int, Any]]) -> tuple[Written, int]:
    if kind == Kind.MEMBERS:
        return await members.write(session, rows), 0
    if kind == Kind.ORDERS:
        return await orders.write(session, rows)
    return await events.write(session, rows), 0


async def run_chunk(session: AsyncSession, chunk_id: int) -> ChunkResult:
    """Write one chunk's rows and record its outcome, in the caller's transaction (the caller commits)."""
    chunk = (
        await session.execute(select(ImportChunk).where(ImportChunk.id == chunk_id).with_for_update())
    ).scalar_one_or_none()
    if chunk is None:
        raise NotFound(f"import chunk {chunk_id} does not exist", code="import_chunk_not_found")
    if chunk.done_at is not None:
        return ChunkResult(chunk.imported, chunk.skipped, chunk.failed)
    await store.mark_running(session, chunk.import_id)
    file = await session.get_one(ImportFile, chunk.file_id)
    kind = Kind(file.kind)
    valid, bad = _parse(kind, file, chunk.body)
    written, lots_expired = await _write(session, kind, valid)
    errors = sorted([*bad, *written.errors], key=lambda error: error.line)
    failed = len({error.line for error in errors})
    chunk.done_at = datetime.now(UTC)
    chunk.imported, chunk.skipped, chunk.failed = written.imported, written.skipped, failed
    chunk.errors = [error.as_dict() for error in errors]
    if lots_expired:
        await session.execute(
            update(Import).where(Import.id == chunk.import_id).values(lots_expired=Import.lots_expired + lots_expired)
        )
    await session.flush()
    return ChunkResult(written.imported, written.skipped, failed)


async def finish(session: AsyncSession, import_id: uuid.UUID, *, batch: int = 500) -> int:
    """Expire whatever else is already due (lots the chunks did not create, e.g. of members imported before),
    and mark the import completed; returns the lots expired by the whole import."""
    imp = await store.get(session, import_id, for_update=True)
    if imp.state == "completed":
        return imp.lots_expired
    now = datetime.now(UTC)
    expired = 0
    while True:
        count = await ledger.expire_due_lots(session, now=now, limit=batch)
        expired += count
        if count < batch:
            break
    remaining = (
        await session.execute(
            select(func.count()).where(ImportChunk.import_id == import_id, ImportChunk.done_at.is_(None))
        )
    ).scalar_one()
    imp.lots_expired += expired
    imp.state = "completed" if remaining == 0 else "failed"
    imp.error = None if remaining == 0 else f"{remaining} chunks were not done"
    imp.finished_at = now
    await session.flush()
    return imp.lots_expired
