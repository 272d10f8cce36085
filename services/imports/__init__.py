"""Bulk history import: members, orders and behaviour events from CSV or JSONL, chunked in the database and
written by the BulkImportWorkflow's activities with bulk statements (docs/import.md)."""

from services.imports.rows import Format, Kind
from services.imports.run import ChunkResult, finish, run_chunk
from services.imports.store import (
    DEFAULT_CHUNK_ROWS,
    ImportProgress,
    KindProgress,
    add_file,
    chunk_ids,
    create,
    error_rows,
    get,
    progress,
    recent,
    start,
    start_here,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "ChunkResult",
    "Format",
    "ImportProgress",
    "Kind",
    "KindProgress",
    "add_file",
    "chunk_ids",
    "create",
    "error_rows",
    "finish",
    "get",
    "progress",
    "recent",
    "run_chunk",
    "start",
    "start_here",
]
