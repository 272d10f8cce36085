"""What the bulk writers share: the asyncpg connection under the session's transaction (COPY and array
parameters go straight to the driver: one round trip for thousands of rows) and the outcome of a chunk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.imports.rows import BadRow


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The session's connection as asyncpg sees it, inside the session's transaction (begun here if need be)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    found: Any = raw.driver_connection
    assert isinstance(found, asyncpg.Connection)
    return found


@dataclass
class Written:
    imported: int = 0
    skipped: int = 0  # already there (a re-run, or a row of an earlier chunk)
    errors: list[BadRow] = field(default_factory=list)


def first_seen(keyed: list[tuple[int, Any, Any]], field_name: str, written: Written) -> list[tuple[int, Any]]:
    """(line, key, row) in file order, without the rows whose key an earlier line of the chunk had: those are
    reported as bad rows naming that line."""
    seen: dict[Any, int] = {}
    kept: list[tuple[int, Any]] = []
    for line, key, row in keyed:
        if key in seen:
            written.errors.append(BadRow(line, field_name, f"repeats line {seen[key]}"))
            continue
        seen[key] = line
        kept.append((line, row))
    return kept


async def member_ids(connection: asyncpg.Connection, external_ids: list[str]) -> dict[str, Any]:
    rows = await connection.fetch(
        "SELECT external_id, id FROM members WHERE external_id = ANY($1::text[])", sorted(set(external_ids))
    )
    return {row["external_id"]: row["id"] for row in rows}


UNKNOWN_MEMBER = "no member has this external id (import the members first)"
