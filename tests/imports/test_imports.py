"""Bulk history import end to end: the API takes the files, the real worker runs the BulkImportWorkflow on a
real Temporal dev server and real PostgreSQL, and the database shows exactly the history, once."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.imports import ImportActivities
from core.settings import Settings
from models import JourneyRun, LedgerAccount, LedgerTransaction, Member, MemberEvent, Message, Order, TemporalOutbox
from services.intake.orders import points_for
from services.loyalty import tiers
from services.platform.api_keys import Role
from tests.support.console import console_client, sign_in
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.imports import new_import, prefix, upload, wait_done
from tests.support.ledger import assert_ledger_ok
from tests.support.temporal import HISTORIES, started_workers
from workflows.bulk_import import BulkImportWorkflow
from workflows.contracts import ChunkOutcome, ChunkRef
from workflows.contracts.imports import import_workflow_id


async def _record_history(temporal: WorkflowEnvironment, import_id: str) -> None:
    """With MEMBERFLOW_RECORD_HISTORIES=1, save the import's run for tests/workflows/test_replay.py (its
    result arrives just after the progress says completed, so wait for it first)."""
    if not os.environ.get("MEMBERFLOW_RECORD_HISTORIES"):
        return
    handle = temporal.client.get_workflow_handle(import_workflow_id(import_id))
    await handle.result()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / "bulk_import.json").write_text((await handle.fetch_history()).to_json())


async def _members(sessions: async_sessionmaker[AsyncSession], p: str) -> dict[str, Member]:
    async with sessions() as session:
        rows = await session.execute(select(Member).where(Member.external_id.startswith(p)))
        return {m.external_id.removeprefix(f"{p}-"): m for m in rows.scalars()}


async def _expected_points(sessions: async_sessionmaker[AsyncSession], amounts: list[str]) -> tuple[int, str]:
    """Points and final tier for these orders in time order, from the ladder as it stands."""
    async with sessions() as session:
        ladder = await tiers.ladder(session)
    spend, tier, points = Decimal(0), tiers.tier_for(ladder, Decimal(0)), []
    for amount in amounts:
        points.append(points_for(Decimal(amount), tier.earn_multiplier))
        spend += Decimal(amount)
        reached = tiers.tier_for(ladder, spend)
        tier = reached if reached.rank > tier.rank else tier
    return sum(points[1:]), tier.code  # the first order's points have expired


async def test_import_members_orders_events_with_bad_rows_tiers_ledger_and_no_journeys(
    admin: ApiClient, workers: list[Worker], sessions: async_sessionmaker[AsyncSession], temporal: WorkflowEnvironment
) -> None:
    p = prefix()
    import_id = await new_import(admin, p)
    started = await admin.post(f"/api/v1/imports/{import_id}/start")
    assert started.status_code == 202, started.text
    done = await wait_done(admin, import_id)
    await _record_history(temporal, import_id)

    assert done["state"] == "completed"
    counts = done["counts"]
    assert counts["members"] == {"rows": 6, "done": 6, "imported": 3, "skipped": 0, "failed": 3}
    assert counts["orders"] == {"rows": 7, "done": 7, "imported": 4, "skipped": 0, "failed": 3}
    assert counts["events"] == {"rows": 3, "done": 3, "imported": 2, "skipped": 0, "failed": 1}
    assert done["percent"] == 100
    assert done["lots_expired"] >= 1

    members = await _members(sessions, p)
    assert set(members) == {"a", "d", "e"}
    ann = members["a"]
    assert ann.tags == ["vip", "app_user"]
    assert ann.consent_email
    assert ann.name == "Ann"
    assert ann.consent_email_at is not None
    assert ann.consent_email_at < ann.updated_at
    expected_points, expected_tier = await _expected_points(sessions, ["400.00", "700.00", "5000.00"])
    assert (ann.order_count, ann.lifetime_spend, ann.tier) == (3, Decimal("6100.00"), expected_tier)
    async with sessions() as session:
        account = (await session.execute(select(LedgerAccount).where(LedgerAccount.member_id == ann.id))).scalar_one()
        assert account.posted == expected_points
        expired = await session.execute(
            select(func.count()).where(LedgerTransaction.member_id == ann.id, LedgerTransaction.kind == "expire")
        )
        assert expired.scalar_one() == 1
        ids = [m.id for m in members.values()]
        events = await session.execute(
            select(MemberEvent.type, func.count()).where(MemberEvent.member_id.in_(ids)).group_by(MemberEvent.type)
        )
        assert dict(events.all()) == {"order_completed": 4, "tier_changed": 2, "checked_in": 1, "review_posted": 1}
        # History mode: no journey start or signal queued, no message recorded, for any imported member.
        queued = await session.execute(
            select(func.count()).where(or_(*(TemporalOutbox.workflow_id.contains(str(i)) for i in ids)))
        )
        runs = await session.execute(select(func.count()).where(JourneyRun.member_id.in_(ids)))
        assert runs.scalar_one() == 0
        assert queued.scalar_one() == 0
        assert (await session.execute(select(func.count()).where(Message.member_id.in_(ids)))).scalar_one() == 0
    await assert_ledger_ok(sessions)

    errors = await admin.get(f"/api/v1/imports/{import_id}/errors")
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(errors.text)))
    by_line = {(r["kind"], int(r["line"])): r for r in rows}
    assert by_line[("members", 3)]["reason"] == "repeats line 2"
    assert by_line[("members", 4)]["field"] == "email"
    assert by_line[("members", 5)]["field"] == "attributes.no_such_field_x"
    assert by_line[("orders", 4)]["reason"] == "is not valid JSON"
    assert by_line[("orders", 6)]["field"] == "member_external_id"
    assert by_line[("orders", 7)]["field"] == "amount"
    assert by_line[("events", 4)]["field"] == "type"
    assert len(rows) == 7


async def test_a_rerun_of_the_same_files_adds_nothing(
    admin: ApiClient, workers: list[Worker], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = prefix()
    first = await new_import(admin, p, chunk_rows=3)
    await admin.post(f"/api/v1/imports/{first}/start")
    await wait_done(admin, first)
    async with sessions() as session:
        before = (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
    again = await new_import(admin, p, chunk_rows=3)
    await admin.post(f"/api/v1/imports/{again}/start")
    done = await wait_done(admin, again)

    assert {kind: c["imported"] for kind, c in done["counts"].items()} == {"members": 0, "orders": 0, "events": 0}
    assert {kind: c["skipped"] for kind, c in done["counts"].items()} == {"members": 3, "orders": 4, "events": 2}
    async with sessions() as session:
        after = (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
        orders = (await session.execute(select(func.count()).where(Order.external_id.startswith(p)))).scalar_one()
    assert (after, orders) == (before, 4)
    await assert_ledger_ok(sessions)


async def test_bad_requests_change_nothing(admin: ApiClient, marketer: ApiClient, approver: ApiClient) -> None:
    created = await marketer.post("/api/v1/imports")
    assert created.status_code == 201
    import_id = created.json()["id"]
    assert_error(await approver.post("/api/v1/imports"), 403)
    assert_error(await marketer.post(f"/api/v1/imports/{import_id}/start"), 422, "import_empty")
    bad_column = await marketer.post(
        f"/api/v1/imports/{import_id}/files",
        params={"kind": "members", "format": "csv"},
        content=b"external_id,shoe\n1,2\n",
    )
    assert_error(bad_column, 422, "invalid_file")
    no_format = await marketer.post(f"/api/v1/imports/{import_id}/files", params={"kind": "members"}, content=b"{}")
    assert_error(no_format, 422, "validation_error")
    assert_error(
        await marketer.post(
            f"/api/v1/imports/{import_id}/files", params={"kind": "orders", "format": "csv"}, content=b"\xff\xfe"
        ),
        422,
        "invalid_file",
    )
    assert_error(await admin.get("/api/v1/imports/00000000-0000-0000-0000-000000000000"), 404, "import_not_found")
    listed = await admin.get(f"/api/v1/imports/{import_id}")
    assert listed.json()["state"] == "open"
    assert listed.json()["rows"] == 0
    await upload(marketer, import_id, "members", f"external_id\n{prefix()}\n", "csv")
    assert (await marketer.post(f"/api/v1/imports/{import_id}/start")).status_code == 202
    assert_error(await marketer.post(f"/api/v1/imports/{import_id}/start"), 409, "import_started")


async def test_the_import_resumes_on_another_worker_after_one_dies_mid_import(
    admin: ApiClient,
    temporal: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    task_queue: str,
) -> None:
    """The first worker commits its third chunk and dies before reporting it; the second worker finishes,
    finds that chunk done (writes nothing twice) and the totals are exact."""
    real = ImportActivities(sessions)
    committed_then_hung = asyncio.Event()
    calls = 0

    @activity.defn(name="imports.run_chunk")
    async def dies_after_third_commit(ref: ChunkRef) -> ChunkOutcome:
        nonlocal calls
        calls += 1
        outcome = await real.run_chunk(ref)
        if calls == 3:
            committed_then_hung.set()
            await asyncio.Event().wait()  # never reports: the worker goes down under it
        return outcome

    p = prefix()
    import_id = await new_import(admin, p, chunk_rows=2)
    first = Worker(
        temporal.client,
        task_queue=task_queue,
        workflows=[BulkImportWorkflow],
        activities=[real.list_chunks, dies_after_third_commit, real.finish],
    )
    async with first:
        assert (await admin.post(f"/api/v1/imports/{import_id}/start")).status_code == 202
        await asyncio.wait_for(committed_then_hung.wait(), timeout=30)
        middle = (await admin.get(f"/api/v1/imports/{import_id}")).json()
        assert middle["state"] == "running"
        assert middle["chunks_done"] == 3
    async with started_workers(temporal.client, sessions, settings):
        done = await wait_done(admin, import_id)
    assert done["state"] == "completed"
    assert done["chunks_done"] == done["chunks_total"] == 9
    assert {kind: c["imported"] for kind, c in done["counts"].items()} == {"members": 3, "orders": 4, "events": 2}
    async with sessions() as session:
        orders = (await session.execute(select(func.count()).where(Order.external_id.startswith(p)))).scalar_one()
    assert orders == 4
    await assert_ledger_ok(sessions)


async def test_the_console_shows_the_progress_bar_counts_and_error_file(
    app: FastAPI,
    admin: ApiClient,
    workers: list[Worker],
    make_key: KeyMaker,
) -> None:
    import_id = await new_import(admin, prefix())
    await admin.post(f"/api/v1/imports/{import_id}/start")
    await wait_done(admin, import_id)
    async with console_client(app) as console:
        assert (await sign_in(console, await make_key(Role.MARKETER))).status_code == 303
        listing = await console.get("/console/imports")
        assert listing.status_code == 200
        assert f"/console/imports/{import_id}" in listing.text
        page = await console.get(f"/console/imports/{import_id}")
        assert page.status_code == 200
        assert '<progress max="100" value="100"' in page.text
        assert re.search(r'<tr data-kind="orders"><td>orders</td><td>7</td><td>7</td><td>4</td>', page.text)
        errors = await console.get(f"/console/imports/{import_id}/errors.csv")
        assert errors.text.splitlines()[0] == "file,kind,line,field,reason"
        assert len(errors.text.splitlines()) == 8
    async with console_client(app) as console:
        await sign_in(console, await make_key(Role.APPROVER))
        assert (await console.get(f"/console/imports/{import_id}")).status_code == 403
