"""A member's own records in uploaded import files: found by the member's external id, so that export can
show them and erasure can cut them out without touching the other members' records in the same chunk."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ImportChunk, ImportFile

# The record fields that name a member: the members file's own id, and the member an order or event is for.
_MEMBER_KEYS = ("external_id", "member_external_id")


def _is_members(record: Any, header: list[str] | None, external_id: str) -> bool:
    """A CSV record is a list of cells named by the file's header; a JSONL record is the line's text."""
    if isinstance(record, list):
        names = header or []
        return any(names[i] in _MEMBER_KEYS and cell == external_id for i, cell in enumerate(record) if i < len(names))
    try:
        parsed = json.loads(record) if isinstance(record, str) else None
    except ValueError:
        return False
    return isinstance(parsed, dict) and any(parsed.get(key) == external_id for key in _MEMBER_KEYS)


async def _chunks(session: AsyncSession, external_id: str) -> list[tuple[ImportChunk, list[str] | None]]:
    # A cheap text filter first; the exact test is per record.
    stmt = (
        select(ImportChunk, ImportFile.header)
        .join(ImportFile, ImportFile.id == ImportChunk.file_id)
        .where(ImportChunk.body.contains(json.dumps(external_id, ensure_ascii=False)[1:-1]))
        .order_by(ImportChunk.id)
    )
    return [(chunk, header) for chunk, header in (await session.execute(stmt)).all()]


async def member_records(session: AsyncSession, external_id: str) -> list[dict[str, Any]]:
    """The member's records as uploaded: {import_id, line, record}."""
    found = []
    for chunk, header in await _chunks(session, external_id):
        for line, record in json.loads(chunk.body):
            if _is_members(record, header, external_id):
                found.append({"import_id": str(chunk.import_id), "line": line, "record": record})
    return found


async def cut_member_records(session: AsyncSession, external_id: str) -> int:
    """Drop the member's records from the chunks that hold them; returns how many were cut. A finished chunk
    is never read again (the error file reads `errors` only), and a chunk still to run skips what is gone."""
    cut = 0
    for chunk, header in await _chunks(session, external_id):
        records = json.loads(chunk.body)
        kept = [pair for pair in records if not _is_members(pair[1], header, external_id)]
        if len(kept) < len(records):
            chunk.body = json.dumps(kept, ensure_ascii=False)
            cut += len(records) - len(kept)
    await session.flush()
    return cut
