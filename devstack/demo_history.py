"""The demo's history through the bulk import: the members who joined before the last week, their orders and
their behaviour events become import rows (JSONL files of one import), and the import's own steps run here,
one transaction per chunk, then `finish`, exactly as the BulkImportWorkflow's activities run them.

The demo drives those steps itself instead of queuing the workflow, so it needs only the database (it runs
in tests and into a database no worker watches yet); the rows, the chunks, the writers, the bad-row report
and the resume are the import's. An import stopped half-way is resumed by the next run at its first chunk not
done. Two audit rows frame each demo import: `demo.history` (with the moment and seed its plan was drawn for,
so a resumed run plans the same members) and `demo.settled` once the members' refunds and small redemptions,
which the import does not carry, went through the services."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devstack.demo_plan import CURRENCY, EXTERNAL_PREFIX, ORDER_SOURCE, PlannedMember
from models import AuditEntry, ImportChunk, ImportFile
from services import imports
from services.imports import Format, Kind
from services.platform import audit
from services.platform.audit import Actor

ACTOR = Actor.system("demo")
HISTORY_ACTION = "demo.history"
SETTLED_ACTION = "demo.settled"


def member_row(plan: PlannedMember) -> dict[str, Any]:
    """The member as an import row: the sign-up backdated to `joined_at`, consent given then."""
    profile = plan.profile
    row: dict[str, Any] = {
        "external_id": plan.external_id,
        "joined_at": plan.joined_at.isoformat(),
        "tags": plan.tags,
        "consent_email": profile["consent"]["email"],
        "consent_sms": profile["consent"]["sms"],
        "consent_email_source": "demo",
        "consent_sms_source": "demo",
    }
    for key in ("name", "email", "phone", "birthday", "timezone", "locale"):
        if key in profile:
            row[key] = profile[key]
    return row


def order_rows(plan: PlannedMember) -> list[dict[str, Any]]:
    """The member's orders in time order (the import books a member's orders in file order across chunks)."""
    return [
        {
            "order_id": order.external_id,
            "member_external_id": plan.external_id,
            "source": ORDER_SOURCE,
            "amount": str(order.amount),
            "currency": CURRENCY,
            "placed_at": order.placed_at.isoformat(),
            "items": order.items,
        }
        for order in sorted(plan.orders, key=lambda o: o.placed_at)
    ]


def event_rows(plan: PlannedMember) -> list[dict[str, Any]]:
    return [
        {
            "event_id": event.event_id,
            "member_external_id": plan.external_id,
            "type": event.type.value,
            "occurred_at": event.occurred_at.isoformat(),
            "properties": event.properties,
        }
        for event in sorted(plan.events, key=lambda e: e.occurred_at)
    ]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


@dataclass(frozen=True)
class DemoImport:
    """A demo import not settled yet, and what its members were planned with."""

    import_id: uuid.UUID
    now: datetime
    seed: int
    years: int


async def create(
    session: AsyncSession, plans: list[PlannedMember], *, now: datetime, seed: int, years: int, chunk_rows: int
) -> DemoImport | None:
    """One import with the members, orders and events of these history members, started (state running),
    in the caller's transaction; None when there is nothing to import."""
    if not plans:
        return None
    created = await imports.create(session, actor=ACTOR, chunk_rows=chunk_rows)
    files = [
        (Kind.MEMBERS, [member_row(plan) for plan in plans]),
        (Kind.ORDERS, [row for plan in plans for row in order_rows(plan)]),
        (Kind.EVENTS, [row for plan in plans for row in event_rows(plan)]),
    ]
    for kind, rows in files:
        if rows:
            await imports.add_file(
                session, created.id, kind=kind, fmt=Format.JSONL, name=f"demo-{kind.value}.jsonl", data=_jsonl(rows)
            )
    await imports.start_here(session, created.id, actor=ACTOR)
    details = {"now": now.isoformat(), "seed": seed, "years": years, "members": len(plans)}
    await audit.record(
        session, ACTOR, action=HISTORY_ACTION, target_type="import", target_id=str(created.id), details=details
    )
    return DemoImport(created.id, now, seed, years)


async def unsettled(session: AsyncSession) -> list[DemoImport]:
    """Demo imports whose run stopped before the end (import or settling), oldest first."""
    settled = select(AuditEntry.target_id).where(AuditEntry.action == SETTLED_ACTION)
    rows = await session.execute(
        select(AuditEntry.target_id, AuditEntry.details)
        .where(AuditEntry.action == HISTORY_ACTION, AuditEntry.target_id.not_in(settled))
        .order_by(AuditEntry.id)
    )
    return [
        DemoImport(uuid.UUID(target), datetime.fromisoformat(d["now"]), int(d["seed"]), int(d["years"]))
        for target, d in rows.all()
    ]


async def run(
    sessions: async_sessionmaker[AsyncSession],
    import_id: uuid.UUID,
    on_progress: Callable[[imports.ImportProgress], None],
) -> imports.ImportProgress:
    """The import's chunks not done yet, one transaction each (as the workflow's run_chunk activity), then
    its finish (the expiry of points already past their date)."""
    async with sessions() as session:
        todo = await imports.chunk_ids(session, import_id)
    for chunk_id in todo:
        async with sessions() as session:
            await imports.run_chunk(session, chunk_id)
            await session.commit()
            on_progress(await imports.progress(session, import_id))
    async with sessions() as session:
        await imports.finish(session, import_id)
        await session.commit()
        done = await imports.progress(session, import_id)
    on_progress(done)
    return done


async def member_indices(session: AsyncSession, import_id: uuid.UUID) -> list[int]:
    """The demo members this import carried (from its member rows), by their index."""
    bodies = await session.execute(
        select(ImportChunk.body)
        .join(ImportFile, ImportFile.id == ImportChunk.file_id)
        .where(ImportChunk.import_id == import_id, ImportFile.kind == Kind.MEMBERS.value)
    )
    indices = []
    for body in bodies.scalars():
        for _, raw in json.loads(body):
            indices.append(int(json.loads(raw)["external_id"].removeprefix(EXTERNAL_PREFIX)))
    return sorted(indices)


async def mark_settled(session: AsyncSession, demo_import: DemoImport, counts: dict[str, int]) -> None:
    await audit.record(
        session,
        ACTOR,
        action=SETTLED_ACTION,
        target_type="import",
        target_id=str(demo_import.import_id),
        details=counts,
    )
