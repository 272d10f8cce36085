"""`memberflow import`: bring a brand's history in from CSV or JSONL files through the bulk import.

The files go into the database (cut into chunks); the import's workflow is queued through the outbox, so the
running worker (its relay) starts it; then this command follows the progress until the import is done and
writes the bad rows to a CSV file. The same path the API takes (POST /api/v1/imports), without its body limit."""

from __future__ import annotations

import asyncio
import csv
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import imports
from services.imports import Format, Kind
from services.platform.audit import Actor

_FORMATS = {".csv": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}


@dataclass(frozen=True)
class ImportFiles:
    members: Path | None = None
    orders: Path | None = None
    events: Path | None = None

    def given(self) -> list[tuple[Kind, Path]]:
        pairs = [(Kind.MEMBERS, self.members), (Kind.ORDERS, self.orders), (Kind.EVENTS, self.events)]
        return [(kind, path) for kind, path in pairs if path is not None]


def file_format(path: Path) -> Format:
    try:
        return _FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: name the file .csv, .jsonl or .ndjson so its format is known") from None


async def queue(
    sessions: async_sessionmaker[AsyncSession],
    files: list[tuple[Kind, str, Format, bytes]],
    *,
    task_queue: str,
    actor: Actor,
    chunk_rows: int = imports.DEFAULT_CHUNK_ROWS,
) -> uuid.UUID:
    """Create the import with these files (kind, name, format, content) and queue its workflow."""
    async with sessions() as session:
        created = await imports.create(session, actor=actor, chunk_rows=chunk_rows)
        for kind, name, fmt, data in files:
            await imports.add_file(session, created.id, kind=kind, fmt=fmt, name=name, data=data)
        await imports.start(session, created.id, task_queue=task_queue, actor=actor)
        await session.commit()
        return created.id


def _line(progress: imports.ImportProgress) -> str:
    counts = ", ".join(
        f"{kind} {c.imported:,} new / {c.skipped:,} there / {c.failed:,} bad" for kind, c in progress.kinds.items()
    )
    return f"{progress.state:>9} {progress.percent:3d}%  {counts}"


async def follow(
    sessions: async_sessionmaker[AsyncSession], import_id: uuid.UUID, out: TextIO, *, interval: float = 0.5
) -> imports.ImportProgress:
    """Print the progress until the import is completed or failed."""
    last = ""
    while True:
        async with sessions() as session:
            progress = await imports.progress(session, import_id)
        line = _line(progress)
        if line != last:
            print(line, file=out, flush=True)
            last = line
        if progress.state in ("completed", "failed"):
            return progress
        await asyncio.sleep(interval)


async def write_errors(sessions: async_sessionmaker[AsyncSession], import_id: uuid.UUID, path: Path) -> int:
    written = 0
    async with sessions() as session:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("file", "kind", "line", "field", "reason"))
            async for name, kind, error in imports.error_rows(session, import_id):
                writer.writerow((name, kind, error["line"], error["field"], error["reason"]))
                written += 1
    return written


async def run(
    sessions: async_sessionmaker[AsyncSession],
    files: ImportFiles,
    *,
    task_queue: str,
    chunk_rows: int,
    wait: bool,
    errors_to: Path | None,
    out: TextIO = sys.stdout,
) -> int:
    loaded = [(kind, path.name, file_format(path), path.read_bytes()) for kind, path in files.given()]
    import_id = await queue(
        sessions, loaded, task_queue=task_queue, actor=Actor.system("cli:import"), chunk_rows=chunk_rows
    )
    print(f"import {import_id} queued; the worker runs it (GET /api/v1/imports/{import_id})", file=out, flush=True)
    if not wait:
        return 0
    progress = await follow(sessions, import_id, out)
    failed = sum(c.failed for c in progress.kinds.values())
    if failed:
        path = errors_to or Path(f"import-{import_id}-errors.csv")
        await write_errors(sessions, import_id, path)
        print(f"{failed:,} bad rows: {path}", file=out)
    if progress.lots_expired:
        print(f"{progress.lots_expired:,} lots of points past their expiry were expired", file=out)
    return 0 if progress.state == "completed" else 1
