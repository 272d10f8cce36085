"""Bulk history imports: the import, the files uploaded into it, and those files cut into chunks.

The uploaded rows live here (not on disk) so that any worker's activities can read them, and each chunk
records its own outcome (counts, bad rows) in the transaction that writes its rows: a chunk is done exactly
once, which is what makes an import resumable after a crash."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class Import(Base):
    __tablename__ = "imports"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'queued', 'running', 'completed', 'failed')", name="state_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    state: Mapped[str] = mapped_column(String(16), default="open")
    # Who asked for it (an API key's name or "cli:..."), for the console and the audit log.
    created_by: Mapped[str] = mapped_column(String(200))
    chunk_rows: Mapped[int] = mapped_column(Integer)
    lots_expired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportFile(Base):
    __tablename__ = "import_files"
    __table_args__ = (
        CheckConstraint("kind IN ('members', 'orders', 'events')", name="kind_known"),
        CheckConstraint("format IN ('csv', 'jsonl')", name="format_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    # A CSV file's column names (its first line); the chunks hold the records after it.
    header: Mapped[list[str] | None] = mapped_column(JSONB)
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class ImportChunk(Base):
    __tablename__ = "import_chunks"
    __table_args__ = (Index("ix_import_chunks_import", "import_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(ForeignKey("import_files.id", ondelete="CASCADE"), index=True)
    # Which kind runs first: members (0), then orders (1), then events (2).
    stage: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    # A JSON array of [line number, record]: a CSV record as a list of strings, a JSONL line as its text.
    body: Mapped[str] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bad rows: [{"line": n, "field": "...", "reason": "..."}], for the error file.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
