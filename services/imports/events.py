"""Past behaviour events in bulk: recorded once per shop event id (the same key the API's ingest uses), in
one statement per chunk. History evaluates no rule, so an old check-in neither earns nor messages today."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from services.imports.bulk import UNKNOWN_MEMBER, Written, driver, first_seen, member_ids
from services.imports.rows import BadRow, EventRow

_INSERT = """
INSERT INTO member_events (id, member_id, type, occurred_at, properties, idempotency_key)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::text[])
ON CONFLICT (idempotency_key) DO NOTHING
"""


async def write(session: AsyncSession, rows: list[tuple[int, EventRow]]) -> Written:
    written = Written()
    kept = first_seen([(line, row.event_id, row) for line, row in rows], "event_id", written)
    connection = await driver(session)
    members = await member_ids(connection, [row.member_external_id for _, row in kept])
    known = []
    for line, row in kept:
        if row.member_external_id in members:
            known.append(row)
        else:
            written.errors.append(BadRow(line, "member_external_id", UNKNOWN_MEMBER))
    if known:
        status = await connection.execute(
            _INSERT,
            [uuid7() for _ in known],
            [members[row.member_external_id] for row in known],
            [row.type.value for row in known],
            [row.occurred_at for row in known],
            [json.dumps(row.properties) for row in known],
            [f"event:{row.event_id}" for row in known],
        )
        written.imported = int(status.rsplit(" ", 1)[1])
    written.skipped = len(known) - written.imported
    return written
