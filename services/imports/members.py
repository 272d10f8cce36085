"""Members in bulk: validated like the API's (custom fields included), then one COPY of the new members and
one of their points accounts. A member whose external id exists is skipped, so a re-run adds nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import MemberField
from services.imports.bulk import Written, driver, first_seen
from services.imports.rows import BadRow, MemberRow
from services.loyalty.ledger import member_account_code
from services.members import fields as member_fields

SOURCE = "import"
_COLUMNS = [
    "id",
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "timezone",
    "locale",
    "tier",
    "tags",
    "attributes",
    "consent_email",
    "consent_email_at",
    "consent_email_source",
    "consent_sms",
    "consent_sms_at",
    "consent_sms_source",
    "lifetime_spend",
    "order_count",
    "created_at",
    "updated_at",
]


def attribute_problems(
    line: int, given: dict[str, Any], fields: dict[str, MemberField]
) -> tuple[dict[str, Any], list[BadRow]]:
    """The attributes in canonical form, checked against the definitions as a create through the API is."""
    result: dict[str, Any] = {}
    problems: list[BadRow] = []
    for key, value in given.items():
        field = fields.get(key)
        if field is None:
            problems.append(BadRow(line, f"attributes.{key}", f"there is no member field {key!r}"))
        elif value is not None:
            try:
                result[key] = member_fields.canonical(field, value)
            except ValueError as exc:
                problems.append(BadRow(line, f"attributes.{key}", str(exc)))
    for key, field in fields.items():
        if field.required and result.get(key) is None and not any(p.field == f"attributes.{key}" for p in problems):
            problems.append(BadRow(line, f"attributes.{key}", f"{key} is required"))
    return result, problems


def _record(row: MemberRow, attributes: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    joined = row.joined_at or now
    return (
        uuid7(),
        row.external_id,
        row.name,
        str(row.email) if row.email else None,
        row.phone,
        row.birthday,
        row.timezone,
        row.locale,
        "member",
        list(row.tags),
        json.dumps(attributes),
        row.consent_email,
        row.consent_email_at or joined,
        row.consent_email_source or SOURCE,
        row.consent_sms,
        row.consent_sms_at or joined,
        row.consent_sms_source or SOURCE,
        Decimal("0"),
        0,
        joined,
        now,
    )


async def write(session: AsyncSession, rows: list[tuple[int, MemberRow]]) -> Written:
    written = Written()
    fields = {field.key: field for field in await member_fields.list_fields(session)}
    checked: list[tuple[int, Any, Any]] = []
    for line, row in rows:
        attributes, problems = attribute_problems(line, row.attributes, fields)
        if problems:
            written.errors.extend(problems)
        else:
            checked.append((line, row.external_id, (row, attributes)))
    kept = first_seen(checked, "external_id", written)
    connection = await driver(session)
    wanted = [row.external_id for _, (row, _) in kept]
    found = await connection.fetch("SELECT external_id FROM members WHERE external_id = ANY($1::text[])", wanted)
    existing = {r["external_id"] for r in found}
    now = datetime.now(UTC)
    records = [_record(row, attributes, now) for _, (row, attributes) in kept if row.external_id not in existing]
    written.skipped = len(kept) - len(records)
    if records:
        await connection.copy_records_to_table("members", records=records, columns=_COLUMNS)
        await connection.copy_records_to_table(
            "ledger_accounts",
            records=[(member_account_code(r[0]), "member", r[0], 0, 0, 0) for r in records],
            columns=["code", "kind", "member_id", "posted", "held", "debt"],
        )
    written.imported = len(records)
    return written
