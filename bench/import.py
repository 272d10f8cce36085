"""Bulk history import against PostgreSQL COPY of the same rows, measured in the same run.

Starts a throw-away embedded PostgreSQL and a file-backed Temporal dev server (as `make run` does), builds
N members and about 3×N orders over two years (so about half the orders' points have expired), and then:

1. the ceiling: COPY of the same member and order rows (other external ids) into the same tables;
2. the import: upload into an import (the chunks in the database), start the BulkImportWorkflow and run
   the real worker in this process until the import is completed; the ledger check must pass.

Reports orders/s, the time to upload and to import, and the import's share of the COPY ceiling, in a
section of docs/benchmarks.md. Run under `flock /tmp/memberflow-bench.lock` (make bench-import).

    .venv/bin/python bench/import.py [--members 10000] [--orders-per-member 3] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from report import cpu_model, log, marks, write_section
from servers import embedded_servers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_session_factory
from core.ids import uuid7
from core.temporal import connect
from services import imports
from services.imports.bulk import driver
from services.intake import bootstrap
from services.loyalty import invariants
from services.platform.audit import Actor
from worker import build_worker
from workflows.contracts import bulk_import_start

ROOT = Path(__file__).resolve().parent.parent
SECTION = "import-bench"
TARGET_ORDERS_PER_SECOND = 3000
QUEUE = "import-bench"


def build_rows(members: int, per_member: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Members who joined over three years, each with a Poisson-ish number of orders averaging `per_member`."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    people, orders = [], []
    for index in range(members):
        joined = now - timedelta(days=rng.uniform(30, 1095))
        external = f"bench-{index}"
        people.append(
            {"external_id": external, "name": f"Member {index}", "email": f"m{index}@example.com",
             "joined_at": joined.isoformat(), "consent_email": rng.random() < 0.6, "tags": ["imported"]}
        )  # fmt: skip
        for number in range(max(0, round(rng.expovariate(1 / per_member)))):
            placed = joined + (now - joined) * rng.random()
            orders.append(
                {"order_id": f"bench-{index}-{number}", "member_external_id": external,
                 "amount": f"{rng.uniform(5, 400):.2f}", "currency": "EUR", "placed_at": placed.isoformat()}
            )  # fmt: skip
    return people, orders


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(row) for row in rows) + "\n").encode()


async def copy_ceiling(
    sessions: async_sessionmaker[AsyncSession], people: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> float:
    """COPY the same members and orders (prefixed external ids) into members and orders: the floor of what
    writing these rows costs this database, with nothing else done."""
    now = datetime.now(UTC)
    ids = {p["external_id"]: uuid7() for p in people}
    member_rows = []
    for p in people:
        joined = datetime.fromisoformat(p["joined_at"])
        member_rows.append(
            (ids[p["external_id"]], f"copy-{p['external_id']}", p["name"], p["email"], "UTC", "en", "member",
             p["tags"], "{}", p["consent_email"], joined, False, Decimal("0"), 0, joined, now)
        )  # fmt: skip
    order_rows = [
        (uuid7(), "default", f"copy-{o['order_id']}", ids[o["member_external_id"]], Decimal(o["amount"]), "EUR",
         "completed", "[]", 0, datetime.fromisoformat(o["placed_at"]))
        for o in orders
    ]  # fmt: skip
    started = time.perf_counter()
    async with sessions() as session:
        connection = await driver(session)
        await connection.copy_records_to_table(
            "members",
            records=member_rows,
            columns=["id", "external_id", "name", "email", "timezone", "locale", "tier", "tags", "attributes",
                     "consent_email", "consent_email_at", "consent_sms", "lifetime_spend", "order_count",
                     "created_at", "updated_at"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "orders",
            records=order_rows,
            columns=["id", "source", "external_id", "member_id", "amount", "currency", "status", "items",
                     "points_earned", "placed_at"],
        )  # fmt: skip
        await session.commit()
    return time.perf_counter() - started


async def run_import(
    sessions: async_sessionmaker[AsyncSession],
    client: Any,
    people: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    chunk_rows: int,
) -> dict[str, float]:
    started = time.perf_counter()
    async with sessions() as session:
        created = await imports.create(session, actor=Actor.system("bench"), chunk_rows=chunk_rows)
        await imports.add_file(
            session,
            created.id,
            kind=imports.Kind.MEMBERS,
            fmt=imports.Format.JSONL,
            name="members.jsonl",
            data=jsonl(people),
        )
        await imports.add_file(
            session,
            created.id,
            kind=imports.Kind.ORDERS,
            fmt=imports.Format.JSONL,
            name="orders.jsonl",
            data=jsonl(orders),
        )
        created.state = "queued"
        await session.commit()
    uploaded = time.perf_counter()
    async with build_worker(client, sessions, QUEUE):
        handle = await bulk_import_start(created.id, task_queue=QUEUE).start(client)
        await handle.result()
    finished = time.perf_counter()
    async with sessions() as session:
        progress = await imports.progress(session, created.id)
        check = await invariants.check(session)
    assert progress.state == "completed", progress
    assert check.ok, check
    counts = progress.kinds
    assert counts["orders"].imported == len(orders), counts
    assert counts["members"].imported == len(people), counts
    return {"upload": uploaded - started, "import": finished - uploaded, "lots_expired": progress.lots_expired}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    people, orders = build_rows(args.members, args.orders_per_member, args.seed)
    log(f"{len(people):,} members, {len(orders):,} orders")
    with tempfile.TemporaryDirectory(prefix="mf-bench-import-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        async with embedded_servers(root) as settings:
            engine = create_engine(settings, pool_size=4)
            sessions = create_session_factory(engine)
            async with sessions() as session:
                await bootstrap.seed(session)
                await session.commit()
            client = await connect(settings.temporal)
            copy_seconds = await copy_ceiling(sessions, people, orders)
            log(f"COPY ceiling: {copy_seconds:.2f} s")
            timing = await run_import(sessions, client, people, orders, args.chunk_rows)
            log(f"import: upload {timing['upload']:.2f} s, run {timing['import']:.2f} s")
            await engine.dispose()
    return {"members": len(people), "orders": len(orders), "copy": copy_seconds, **timing}


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    orders, members = figures["orders"], figures["members"]
    run_rate = orders / figures["import"]
    total_rate = orders / (figures["import"] + figures["upload"])
    copy_rate = orders / figures["copy"]
    ratio = figures["copy"] / (figures["import"] + figures["upload"])
    history = 69_659 / total_rate
    start, end = marks(SECTION)
    verdict = "reached" if total_rate >= TARGET_ORDERS_PER_SECOND else "not reached"
    return f"""{start}
## Bulk history import (`make bench-import`)

{members:,} members and {orders:,} orders (JSONL, about half the orders' points already expired), on
{cpu_model()} ({os.cpu_count()} cores), a fresh embedded PostgreSQL and a file-backed Temporal dev server,
the worker in the benchmark's process, chunks of {args.chunk_rows:,} rows. Measured {datetime.now(UTC):%Y-%m-%d}.

| what | seconds | orders/s | against COPY |
| --- | ---: | ---: | ---: |
| COPY of the same members and orders (the ceiling) | {figures["copy"]:.2f} | {copy_rate:,.0f} | 1.00 |
| import: upload (parse, cut into chunks, store) | {figures["upload"]:.2f} | | |
| import: the workflow's run (points, tiers, expiry) | {figures["import"]:.2f} | {run_rate:,.0f} | |
| import: upload and run | {figures["upload"] + figures["import"]:.2f} | **{total_rate:,.0f}** | **{ratio:.2f}** |

Target ≥ {TARGET_ORDERS_PER_SECOND:,} orders/s: **{verdict}**. At this rate the 69,659-order history of issue 14
imports in about {history:,.0f} s. The import expired {figures["lots_expired"]:,} lots on the way, and the ledger
check passed afterwards. For each order the import writes six rows where COPY writes one (the order, its earn
transaction with two entries and a lot, its `order_completed` event; and for an expired lot another
transaction, two entries and a lot move), and validates every row; its Temporal cost is three actions per
chunk, none per row. See docs/import.md for the profile and where the rest of the time goes.
{end}"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--orders-per-member", type=float, default=3.0)
    parser.add_argument("--chunk-rows", type=int, default=imports.DEFAULT_CHUNK_ROWS)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    write_section(arguments.out, report(result, arguments), SECTION)
    log(f"wrote {arguments.out}")
