"""Export of everything held about one member (an access request), built from the personal-data inventory:
every row of every table the inventory links to the member, all columns, plus the member's own records in
uploaded import files. Export and erasure walk the same inventory, so they cover the same data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services import members
from services.members.personal_data import member_tables
from services.platform import audit
from services.platform.audit import Actor
from services.privacy.records import member_records

EXPORT_FORMAT = 1


def _query(name: str, condition: str) -> str:
    """All columns of the member's rows, as PostgreSQL turns them into JSON (fixed text from the inventory)."""
    rows = "coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]'::jsonb)"
    return f"SELECT {rows} FROM {name} t WHERE {condition}"


def exported_columns() -> dict[str, set[str]]:
    """The columns the export holds per table: every column of each table linked to a member, and the import
    records (the body of import chunks). The inventory test checks every personal column is among them."""
    columns = {name: set(table.columns) for name, table in member_tables().items()}
    columns["import_chunks"] = {"body"}
    return columns


async def export(session: AsyncSession, member_id: uuid.UUID, *, actor: Actor) -> dict[str, Any]:
    """The document: {"format", "exported_at", "member_id", "tables": {table: [rows]}, "import_records"}.
    404 for an unknown id; an erased member's export shows what is still held (ids, orders, the ledger)."""
    member = await members.get(session, member_id)
    tables: dict[str, Any] = {}
    for name, table in member_tables().items():
        assert table.member is not None
        tables[name] = (
            await session.execute(
                text(_query(name, table.member)).bindparams(bindparam("member_id", member_id, type_=Uuid()))
            )
        ).scalar()
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "member_id": str(member_id),
        "tables": tables,
        "import_records": await member_records(session, member.external_id),
    }
    await audit.record(session, actor, action="member.export", target_type="member", target_id=str(member_id))
    return document
