"""Imports as records: create one, upload files into it (cut into chunks in the database), start it, and read
its progress and bad rows back. SQL on the import tables only; the rows themselves are written by `run`."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import Import, ImportChunk, ImportFile
from services.imports.rows import MODELS, STAGES, Format, Kind
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows.contracts import bulk_import_start

DEFAULT_CHUNK_ROWS = 5_000
MAX_CHUNK_ROWS = 20_000
# CSV column names accepted beside the row's own fields.
_ALIASES = {Kind.ORDERS: {"external_id"}}


async def create(session: AsyncSession, *, actor: Actor, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Import:
    if not 1 <= chunk_rows <= MAX_CHUNK_ROWS:
        raise InvalidInput(
            f"chunk_rows must be between 1 and {MAX_CHUNK_ROWS}",
            code="validation_error",
            details=[{"field": "chunk_rows", "message": f"between 1 and {MAX_CHUNK_ROWS}"}],
        )
    row = Import(state="open", created_by=actor.name, chunk_rows=chunk_rows)
    session.add(row)
    await session.flush()
    await audit.record(session, actor, action="import.create", target_type="import", target_id=str(row.id))
    return row


async def get(session: AsyncSession, import_id: uuid.UUID, *, for_update: bool = False) -> Import:
    stmt = select(Import).where(Import.id == import_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"import {import_id} does not exist", code="import_not_found")
    return found


def _bad_file(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_file", details=[{"field": "body", "message": message}])


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad_file(f"the file is not UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise _bad_file("the file contains NUL characters")
    return text


def _csv_records(kind: Kind, text: str) -> tuple[list[str], list[tuple[int, Any]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise _bad_file("the file is empty") from None
    except csv.Error as exc:
        raise _bad_file(f"line 1 is not CSV: {exc}") from None
    known = set(MODELS[kind].model_fields) | _ALIASES.get(kind, set())
    unknown = [name for name in header if name not in known]
    if unknown:
        raise _bad_file(f"unknown column {unknown[0]!r} for {kind.value}; the columns are: {', '.join(sorted(known))}")
    if len(set(header)) != len(header):
        raise _bad_file("a column is named twice in the header")
    records: list[tuple[int, Any]] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if cells and any(cell.strip() for cell in cells):
                records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _bad_file(f"line {line} is not CSV: {exc}") from None
    return header, records


def _jsonl_records(text: str) -> list[tuple[int, Any]]:
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


async def add_file(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    kind: Kind,
    fmt: Format,
    name: str,
    data: bytes,
    actor: Actor | None = None,
) -> ImportFile:
    """Store a file's records in chunks of the import's `chunk_rows`; only while the import is open. Audited
    as `import.file` when an `actor` uploads it (the command line and the demo pass none)."""
    imp = await get(session, import_id, for_update=True)
    if imp.state != "open":
        raise Conflict(f"import {import_id} was already started", code="import_started")
    text = _text(data)
    header: list[str] | None = None
    if fmt == Format.CSV:
        header, records = _csv_records(kind, text)
    else:
        records = _jsonl_records(text)
    if not records:
        raise _bad_file("the file has no rows")
    stored = ImportFile(import_id=import_id, kind=kind.value, format=fmt.value, name=name, header=header)
    stored.rows = len(records)
    session.add(stored)
    await session.flush()
    size = imp.chunk_rows
    chunks = [
        {
            "import_id": import_id,
            "file_id": stored.id,
            "stage": STAGES[kind],
            "rows": len(records[start : start + size]),
            "body": json.dumps(records[start : start + size], ensure_ascii=False),
        }
        for start in range(0, len(records), size)
    ]
    await session.execute(insert(ImportChunk), chunks)
    if actor is not None:
        details = {"file_id": str(stored.id), "kind": kind.value, "rows": stored.rows}
        await audit.record(
            session, actor, action="import.file", target_type="import", target_id=str(import_id), details=details
        )
    return stored


async def start(session: AsyncSession, import_id: uuid.UUID, *, task_queue: str, actor: Actor) -> Import:
    """Queue the import's workflow (through the outbox, with this transaction). Starting twice is a 409."""
    imp = await get(session, import_id, for_update=True)
    if imp.state != "open":
        raise Conflict(f"import {import_id} was already started", code="import_started")
    files = (await session.execute(select(func.count()).where(ImportFile.import_id == import_id))).scalar_one()
    if files == 0:
        raise InvalidInput("the import has no files yet", code="import_empty")
    imp.state = "queued"
    await outbox.enqueue_start(session, bulk_import_start(import_id, task_queue=task_queue))
    await audit.record(session, actor, action="import.start", target_type="import", target_id=str(import_id))
    await session.flush()
    return imp


async def start_here(session: AsyncSession, import_id: uuid.UUID, *, actor: Actor) -> Import:
    """Mark the import running without queuing its workflow, for a caller that runs the chunks itself with
    `run_chunk` and `finish` (the demo, which needs only the database). Starting twice is a 409."""
    imp = await get(session, import_id, for_update=True)
    if imp.state != "open":
        raise Conflict(f"import {import_id} was already started", code="import_started")
    imp.state = "running"
    imp.started_at = datetime.now(UTC)
    await audit.record(
        session, actor, action="import.start", target_type="import", target_id=str(import_id), details={"here": True}
    )
    await session.flush()
    return imp


@dataclass
class KindProgress:
    rows: int = 0
    done: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class ImportProgress:
    id: uuid.UUID
    state: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lots_expired: int
    error: str | None
    chunks_total: int = 0
    chunks_done: int = 0
    kinds: dict[str, KindProgress] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(k.rows for k in self.kinds.values())

    @property
    def rows_done(self) -> int:
        return sum(k.done for k in self.kinds.values())

    @property
    def percent(self) -> int:
        return 100 if self.state == "completed" else int(100 * self.rows_done / self.rows) if self.rows else 0


async def progress(session: AsyncSession, import_id: uuid.UUID) -> ImportProgress:
    imp = await get(session, import_id)
    result = ImportProgress(
        id=imp.id,
        state=imp.state,
        created_by=imp.created_by,
        created_at=imp.created_at,
        started_at=imp.started_at,
        finished_at=imp.finished_at,
        lots_expired=imp.lots_expired,
        error=imp.error,
    )
    done = ImportChunk.done_at.is_not(None)
    rows = await session.execute(
        select(
            ImportFile.kind,
            func.count(),
            func.count().filter(done),
            func.sum(ImportChunk.rows),
            func.coalesce(func.sum(ImportChunk.rows).filter(done), 0),
            func.sum(ImportChunk.imported),
            func.sum(ImportChunk.skipped),
            func.sum(ImportChunk.failed),
        )
        .join(ImportFile, ImportFile.id == ImportChunk.file_id)
        .where(ImportChunk.import_id == import_id)
        .group_by(ImportFile.kind)
    )
    for kind, chunks, chunks_done, total, rows_done, imported, skipped, failed in rows:
        result.chunks_total += chunks
        result.chunks_done += chunks_done
        result.kinds[kind] = KindProgress(int(total), int(rows_done), int(imported), int(skipped), int(failed))
    return result


async def recent(session: AsyncSession, *, limit: int = 50) -> list[ImportProgress]:
    ids = (await session.execute(select(Import.id).order_by(Import.created_at.desc()).limit(limit))).scalars().all()
    return [await progress(session, import_id) for import_id in ids]


async def error_rows(session: AsyncSession, import_id: uuid.UUID) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    """Each bad row as (file name, kind, {line, field, reason}), in file and line order."""
    await get(session, import_id)
    stmt = (
        select(ImportFile.name, ImportFile.kind, ImportChunk.errors)
        .join(ImportFile, ImportFile.id == ImportChunk.file_id)
        .where(ImportChunk.import_id == import_id, ImportChunk.failed > 0)
        .order_by(ImportChunk.id)
    )
    for name, kind, errors in await session.execute(stmt):
        for error in errors:
            yield name, kind, error


async def chunk_ids(session: AsyncSession, import_id: uuid.UUID) -> list[int]:
    """The chunks still to do, members first, then orders, then events, each in upload order."""
    rows = await session.execute(
        select(ImportChunk.id)
        .where(ImportChunk.import_id == import_id, ImportChunk.done_at.is_(None))
        .order_by(ImportChunk.stage, ImportChunk.file_id, ImportChunk.id)
    )
    return list(rows.scalars().all())


async def mark_running(session: AsyncSession, import_id: uuid.UUID) -> None:
    await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.state.in_(("open", "queued")))
        .values(state="running", started_at=func.coalesce(Import.started_at, datetime.now(UTC)))
    )
