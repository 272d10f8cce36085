"""What the rules engine costs an ingested event: behaviour events per second through `services.intake.events.ingest`
with 1, 5 and 25 rules on the event's trigger, against the same ingest with no rule (the ceiling, same run).

Starts a throw-away embedded PostgreSQL, creates members through the services, and for each scenario and
client count ingests `review_posted` events (a fresh review id each, so the award fires every time), one
session and one commit per event, as the API does. Writes a section of docs/benchmarks.md.

    .venv/bin/python bench/rules.py [--seconds 10] [--clients 1,8] [--members 400] [--scenarios 0,1,5,25]
        [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from report import cpu_model, log, marks, write_section
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres, free_port
from models import Rule
from services import rules
from services.intake import bootstrap, events, signups
from services.intake.events import EventCreate, EventType
from services.members import MemberCreate
from services.platform.audit import Actor

ROOT = Path(__file__).resolve().parent.parent
SECTION = "rules-bench"
START_MARK, END_MARK = marks(SECTION)
CEILING = "no rule (the ceiling: the bare ingest)"
Sessions = async_sessionmaker[AsyncSession]


async def _set_award(sessions: Sessions, enabled: bool) -> None:
    async with sessions() as session:
        await session.execute(update(Rule).where(Rule.name == "award_review_posted").values(enabled=enabled))
        await session.commit()


_MISSES = [
    {"field": "tags", "op": "contains", "value": "nobody"},
    {"field": "tier", "op": "eq", "value": "gold"},
    {"field": "order_count", "op": "gte", "value": 50},
    {"field": "event.properties.rating", "op": "lt", "value": 2},
]


async def _add_misses(sessions: Sessions, first: int, count: int) -> None:
    """Rules whose condition is false for these members (tags, tier, counts, the event), each granting points."""
    async with sessions() as session:
        for index in range(first, first + count):
            body = {
                "name": f"bench_miss_{index}",
                "trigger": {"event": "review_posted"},
                "conditions": {"all": [_MISSES[index % len(_MISSES)]]},
                "actions": [{"grant_points": {"points": 1}}],
            }
            await rules.create(session, rules.parse(body), actor=Actor.system("bench"))
        await session.commit()


async def _add_hits(sessions: Sessions, count: int) -> None:
    """Rules that fire on every review: points and a tag (the member's first review adds the tag)."""
    async with sessions() as session:
        for index in range(count):
            body = {
                "name": f"bench_hit_{index}",
                "trigger": {"event": "review_posted"},
                "conditions": {"field": "event.properties.rating", "op": "gte", "value": 4},
                "actions": [{"grant_points": {"points": 2}}, {"tag": {"add": [f"reviewer_{index}"]}}],
                "priority": 50 + index,
            }
            await rules.create(session, rules.parse(body), actor=Actor.system("bench"))
        await session.commit()


async def _five(sessions: Sessions) -> None:
    await _add_misses(sessions, 0, 4)


async def _twenty_five(sessions: Sessions) -> None:
    await _add_misses(sessions, 4, 16)
    await _add_hits(sessions, 4)


async def _members(sessions: Sessions, count: int) -> list[uuid.UUID]:
    made = []
    async with sessions() as session:
        for _ in range(count):
            member = await signups.register(
                session,
                MemberCreate(external_id=f"bench-{uuid.uuid4().hex}", timezone="Asia/Shanghai"),
                source="bench",
                task_queue="bench",
            )
            made.append(member.id)
        await session.commit()
    return made


def _review(member_id: uuid.UUID) -> EventCreate:
    return EventCreate(
        member_id=member_id,
        type=EventType.REVIEW_POSTED,
        occurred_at=datetime.now(UTC),
        properties={"review_id": uuid.uuid4().hex, "rating": 5},
    )


async def _ingest(sessions: Sessions, member_id: uuid.UUID) -> None:
    async with sessions() as session:
        outcome = await events.ingest(session, _review(member_id), task_queue="bench")
        await session.commit()
    assert outcome.award_status != events.AwardStatus.ALREADY_AWARDED


async def _warm(sessions: Sessions, member_ids: list[uuid.UUID], clients: int) -> None:
    """One review per member first: the first one adds the hit rules' tags, every later one finds them."""

    async def client(mine: list[uuid.UUID]) -> None:
        for member_id in mine:
            await _ingest(sessions, member_id)

    await asyncio.gather(*(client(member_ids[i::clients]) for i in range(clients)))


async def _load(sessions: Sessions, member_ids: list[uuid.UUID], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    per_client = [member_ids[i::clients] for i in range(clients)]  # no two clients share a member

    async def client(mine: list[uuid.UUID]) -> None:
        turn = 0
        while time.perf_counter() < deadline:
            member_id = mine[turn % len(mine)]
            turn += 1
            started = time.perf_counter()
            await _ingest(sessions, member_id)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(client(mine) for mine in per_client))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "events": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


Result = tuple[str, int, dict[str, float]]


def _server_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the PostgreSQL server: the postmaster and its children (the backends)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(stat.parent.name), int(fields[1])
        if postmaster in (pid, parent):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _scenarios(sessions: Sessions) -> list[tuple[str, str, Callable[[], Awaitable[None]]]]:
    """(key, name, preparation); each builds on the one before it."""
    return [
        ("0", CEILING, lambda: _set_award(sessions, False)),
        ("1", "1 rule (the built-in award; fires)", lambda: _set_award(sessions, True)),
        ("5", "5 rules (1 fires, 4 conditions false)", lambda: _five(sessions)),
        ("25", "25 rules (5 fire: points, 4 with a tag; 20 conditions false)", lambda: _twenty_five(sessions)),
    ]


async def run(args: argparse.Namespace) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="mf-rules-bench-"))
    server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
    server.start()
    results: list[Result] = []
    try:
        server.ensure_database("bench")
        url = server.url("bench")
        await asyncio.to_thread(upgrade, url)
        settings = Settings(database_url=url)
        engine = create_engine(settings, pool_size=max(args.clients) + 2)
        statements = [0]

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(*_: object) -> None:
            statements[0] += 1

        sessions = create_session_factory(engine)
        async with sessions() as session:
            await bootstrap.seed(session)
            await session.commit()
        member_ids = await _members(sessions, args.members)
        for key, name, prepare in _scenarios(sessions):
            await prepare()
            if key not in args.scenarios:
                continue
            await _warm(sessions, member_ids, max(args.clients))
            for clients in args.clients:
                await _load(sessions, member_ids, clients, 1.0)
                before, client_cpu, server_cpu = statements[0], time.process_time(), _server_cpu(server.data_dir)
                figures = await _load(sessions, member_ids, clients, args.seconds)
                # SQL statements per event (each a round trip; BEGIN and COMMIT are not counted)
                figures["statements"] = (statements[0] - before) / figures["events"]
                # CPU per event: this process (SQLAlchemy, the engine, asyncpg) and the database server
                figures["client_ms"] = (time.process_time() - client_cpu) * 1000 / figures["events"]
                figures["server_ms"] = (_server_cpu(server.data_dir) - server_cpu) * 1000 / figures["events"]
                log(
                    f"{name:60s} {clients:2d} clients: {figures['rate']:6.1f}/s {figures['statements']:.1f} stmts, "
                    f"CPU ms/event {figures['client_ms']:.2f} client {figures['server_ms']:.2f} server"
                )
                results.append((name, clients, figures))
        await engine.dispose()
    finally:
        server.stop()
    return results


def _ratio(results: list[Result], clients: int, rate: float) -> str:
    ceiling = next((f["rate"] for n, c, f in results if n == CEILING and c == clients), None)
    return f"{rate / ceiling:.2f}" if ceiling else "–"


def write(path: Path, results: list[Result], args: argparse.Namespace) -> None:
    rows = [
        f"| {name} | {clients} | {f['rate']:,.0f} | {_ratio(results, clients, f['rate'])} | "
        f"{f['p50']:.1f} | {f['p99']:.1f} | {f['statements']:.1f} | {f['client_ms']:.2f} | {f['server_ms']:.2f} |"
        for name, clients, f in results
    ]
    target = next((f["rate"] for n, c, f in results if n.startswith("25 rules") and c == 8), None)
    verdict = (
        f"25 rules with 8 clients: {target:,.0f} events/s against the target of 150."
        if target is not None
        else "The 25-rule scenario was not run."
    )
    body = "\n".join(
        [
            START_MARK,
            "## Rules: cost per ingested event",
            "",
            f"Run `make bench-rules` on {datetime.now(UTC).date()}: {os.cpu_count()} CPUs ({cpu_model()}), "
            f"embedded PostgreSQL (default settings), Python {platform.python_version()}; 1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end. The ceiling is the same event with no rule on its trigger, "
            "measured in the same run; compare the ratios, not figures of different runs.",
            "",
            f"- A `review_posted` event through `services.intake.events.ingest` (member row lock, event row, journey "
            "triggers, rule evaluation and actions) and its commit, one session per event, from one process; "
            f"{args.members} members, each client on its own members; {args.seconds:g} s per point after a review "
            "for every member and 1 s of warm-up. Each event carries a fresh review id, so the built-in award "
            "(once per review) fires every time.",
            f"- {verdict}",
            "- How the rules run (docs/rules.md#evaluation): the trigger's rules are compiled once per version and "
            "cached per process under a fingerprint of their rows (one small query per event); every condition is "
            "tested in Python against one set of facts; the matching rules are claimed in one statement, their "
            "grants posted in one (`ledger.credit_many`) and their results written in one. So the SQL statements "
            "per event are the same for 1 rule and for 25; what still grows with the firings is the database work "
            "of each (its claim row, its ledger transaction) and the actions that are not points.",
            "",
            "| rules on the trigger | clients | events/s | × ceiling | p50 ms | p99 ms | SQL statements per event "
            "| client CPU ms/event | server CPU ms/event |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            END_MARK,
        ]
    )
    write_section(path, body, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=["0", "1", "5", "25"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    write(args.out, results, args)


if __name__ == "__main__":
    main()
