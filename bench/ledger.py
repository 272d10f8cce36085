"""Ledger posting throughput against the same machine's pgbench ceiling.

Starts a throw-away embedded PostgreSQL, seeds members with opening balances through the services, then
for each client count runs a 50/50 earn/spend mix of ledger postings (one session, one stored-function
call and one commit each) from one Python process and from two, and pgbench tpcb-like against the same
server. Checks the ledger's invariants afterwards and writes a section of docs/benchmarks.md.

    .venv/bin/python bench/ledger.py [--seconds 20] [--clients 1,8,32] [--out docs/benchmarks.md]

Longer than 400 lines on purpose: the workload, its pgbench ceiling, CPU accounting and the report stay in
one script that runs on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import queue
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from report import cpu_model, log, marks, write_section
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from core.db import create_session_factory
from core.migrate import upgrade
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres, free_port
from services.intake import signups
from services.loyalty import invariants, ledger
from services.members import MemberCreate

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bench"
PGBENCH_DB = "pgbench"
SECTION = "ledger-bench"
START_MARK, END_MARK = marks(SECTION)
TARGET_RATIO = 0.7
TARGET_CLIENTS = 8
OPENING_BALANCE = 1_000
SEED_BATCH = 200
EARN_POINTS = (1, 50)
SPEND_POINTS = (1, 5)


# --- the load, run inside each worker process --------------------------------------------------------


@dataclass
class LoadResult:
    """What one process measured in its window: committed postings, refused spends, latencies (s)."""

    committed: int = 0
    refused: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds the load processes used in the window
    cpu: CpuWindow | None = None  # the server's and the machine's, sampled by the parent


@dataclass
class CpuWindow:
    """Over a sampled window: CPUs' worth of time used by the server's processes, and the machine's busy share."""

    server_cores: float
    busy: float


class ServerCpu:
    """CPU seconds used so far by the server's live processes (postmaster, backends, WAL writer, ...)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def seconds(self) -> float:
        total = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def window(self, delay: float, length: float) -> CpuWindow:
        time.sleep(delay)
        server0, box0, t0 = self.seconds(), psutil.cpu_times(), time.perf_counter()
        time.sleep(length)
        server1, box1, elapsed = self.seconds(), psutil.cpu_times(), time.perf_counter() - t0
        idle = (box1.idle - box0.idle) + (box1.iowait - box0.iowait)
        total = sum(box1) - sum(box0)
        return CpuWindow(server_cores=(server1 - server0) / elapsed, busy=1 - idle / total if total else 0.0)


def make_engine(url: str, pool_size: int, *, pre_ping: bool | None = None) -> AsyncEngine:
    """The application's engine settings (core.db.create_engine), with a fixed pool of one connection per client."""
    if pre_ping is None:
        pre_ping = app_pre_ping()
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=pre_ping, pool_recycle=1800)


def app_pre_ping() -> bool:
    """Whether the application's pool tests connections before use (`MEMBERFLOW_DATABASE_PRE_PING`)."""
    return bool(getattr(Settings(), "database_pre_ping", True))


@dataclass(frozen=True)
class LoadSpec:
    """What every load worker needs (sent to each process, so plain data only)."""

    url: str
    member_ids: list[str]
    warmup: float
    seconds: float
    pre_ping: bool
    # Post on an AUTOCOMMIT connection instead of a session: the stored function alone, with no BEGIN/COMMIT.
    autocommit: bool = False


async def _load(spec: LoadSpec, clients: int, barrier: Any, seed: int) -> LoadResult:
    engine = make_engine(spec.url, clients, pre_ping=spec.pre_ping)
    sessions = create_session_factory(engine)
    autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    ids = [uuid.UUID(value) for value in spec.member_ids]
    rng = random.Random(seed)
    expires_at = datetime.now(UTC) + timedelta(days=365)
    result = LoadResult(seconds=spec.seconds)

    async def posting(executor: AsyncSession | AsyncConnection) -> bool:
        """One earn or spend; False when the spend was refused for lack of points."""
        if rng.random() < 0.5:
            await ledger.credit(
                executor,
                member_id=rng.choice(ids),
                points=rng.randint(*EARN_POINTS),
                kind=ledger.TxKind.EARN,
                reason="bench earn",
                idempotency_key=f"bench:{uuid.uuid4()}",
                expires_at=expires_at,
            )
            return True
        try:
            await ledger.debit(
                executor,
                member_id=rng.choice(ids),
                points=rng.randint(*SPEND_POINTS),
                kind=ledger.TxKind.SPEND,
                reason="bench spend",
                idempotency_key=f"bench:{uuid.uuid4()}",
            )
        except ledger.InsufficientPoints:
            return False
        return True

    async def once() -> bool:
        if spec.autocommit:
            async with autocommit_engine.connect() as connection:
                return await posting(connection)
        async with sessions() as session:
            if not await posting(session):
                return False  # rolled back on close
            await session.commit()
            return True

    try:
        # Open every pooled connection before the clock starts.
        connections = [await engine.connect() for _ in range(clients)]
        for connection in connections:
            await connection.close()
        await asyncio.to_thread(barrier.wait, 120)
        measure_from = time.perf_counter() + spec.warmup
        stop_at = measure_from + spec.seconds

        async def cpu_clock() -> None:
            await asyncio.sleep(measure_from - time.perf_counter())
            used = time.process_time()
            await asyncio.sleep(stop_at - time.perf_counter())
            result.client_cpu = time.process_time() - used

        async def client() -> None:
            while (began := time.perf_counter()) < stop_at:
                committed = await once()
                done = time.perf_counter()
                if measure_from <= done <= stop_at:
                    if committed:
                        result.committed += 1
                        result.latencies.append(done - began)
                    else:
                        result.refused += 1

        await asyncio.gather(cpu_clock(), *(client() for _ in range(clients)))
    finally:
        await engine.dispose()
    return result


def _worker(spec: LoadSpec, clients: int, barrier: Any, results: Any, seed: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers on Ctrl-C
    try:
        results.put(("ok", asyncio.run(_load(spec, clients, barrier, seed))))
    except BaseException:
        results.put(("error", traceback.format_exc()))
        barrier.abort()


def run_load(spec: LoadSpec, server_cpu: ServerCpu, clients: int, processes: int) -> LoadResult:
    """`clients` concurrent posting loops split over `processes` processes, each with its own engine.
    This process joins their start barrier and samples the server's CPU over the measured window."""
    warmup, seconds = spec.warmup, spec.seconds
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = [
        ctx.Process(
            target=_worker,
            args=(spec, share, barrier, results, random.randrange(2**32)),
            name=f"ledger-bench-{i}",
        )
        for i, share in enumerate(shares)
    ]
    try:
        for proc in procs:
            proc.start()
        try:
            barrier.wait(120)
        except threading.BrokenBarrierError:
            pass  # a worker failed before starting: its report below says why
        merged = LoadResult(seconds=seconds, cpu=server_cpu.window(warmup + 0.25, max(seconds - 0.5, 0.5)))
        for _ in procs:
            try:
                status, payload = results.get(timeout=warmup + seconds + 120)
            except queue.Empty:
                raise RuntimeError("a load worker did not report back") from None
            if status != "ok":
                raise RuntimeError(f"a load worker failed:\n{payload}")
            merged.committed += payload.committed
            merged.refused += payload.refused
            merged.latencies.extend(payload.latencies)
            merged.client_cpu += payload.client_cpu
        for proc in procs:
            proc.join(30)
        return merged
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(10)


# --- setup -----------------------------------------------------------------------------------------------


async def seed_members(url: str, count: int) -> list[str]:
    """Members created through the service, each with an opening balance; outbox rows stay undelivered."""
    engine = make_engine(url, 4)
    sessions = create_session_factory(engine)
    expires_at = datetime.now(UTC) + timedelta(days=365)
    run = uuid.uuid4().hex[:8]

    async def batch(start: int, size: int) -> list[str]:
        created = []
        async with sessions() as session:
            for n in range(start, start + size):
                member = await signups.register(
                    session, MemberCreate(external_id=f"bench-{run}-{n}"), source="bench", task_queue="bench"
                )
                await ledger.credit(
                    session,
                    member_id=member.id,
                    points=OPENING_BALANCE,
                    kind=ledger.TxKind.EARN,
                    reason="bench opening balance",
                    idempotency_key=f"bench:open:{member.id}",
                    expires_at=expires_at,
                )
                created.append(str(member.id))
            session.info.clear()  # no Temporal here: the welcome journeys' outbox rows are not dispatched
            await session.commit()
        return created

    try:
        ids: list[str] = []
        starts = list(range(0, count, SEED_BATCH))
        for group in range(0, len(starts), 4):
            chunks = await asyncio.gather(
                *(batch(start, min(SEED_BATCH, count - start)) for start in starts[group : group + 4])
            )
            for chunk in chunks:
                ids.extend(chunk)
        return ids
    finally:
        await engine.dispose()


async def check_ledger(url: str) -> invariants.LedgerCheck:
    engine = make_engine(url, 1)
    try:
        async with create_session_factory(engine)() as session:
            return await invariants.check(session)
    finally:
        await engine.dispose()


# --- pgbench ---------------------------------------------------------------------------------------------


def pgbench_command(server: EmbeddedPostgres, *args: str) -> list[str]:
    return [str(server.bin_dir / "pgbench"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", *args]


def pgbench(server: EmbeddedPostgres, *args: str) -> str:
    cmd = pgbench_command(server, *args)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result.stdout + result.stderr


@dataclass
class PgbenchResult:
    tps: float
    client_cpu_per_tx: float  # seconds of pgbench's own CPU per transaction
    cpu: CpuWindow


def pgbench_run(server: EmbeddedPostgres, server_cpu: ServerCpu, clients: int, seconds: float) -> PgbenchResult:
    base = ["-c", str(clients), "-j", str(min(clients, 2)), "-b", "tpcb-like", "-n"]
    pgbench(server, *base, "-T", "2", PGBENCH_DB)  # warm-up, discarded
    length = max(2, round(seconds))
    cmd = pgbench_command(server, *base, "-T", str(length), PGBENCH_DB)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            cpu = server_cpu.window(1.0, length - 1.5)
            out, err = proc.communicate(timeout=length + 120)
        except BaseException:
            proc.kill()
            raise
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    if tps is None or done is None or not int(done.group(1)):
        raise RuntimeError(f"unexpected pgbench output:\n{out}\n{err}")
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return PgbenchResult(tps=float(tps.group(1)), client_cpu_per_tx=client / int(done.group(1)), cpu=cpu)


# --- report ----------------------------------------------------------------------------------------------


@dataclass
class Point:
    clients: int
    one: LoadResult
    two: LoadResult
    two_processes: int
    pgbench: PgbenchResult

    @property
    def ratio(self) -> float:
        return rate(self.two) / self.pgbench.tps if self.pgbench.tps else 0.0


def rate(result: LoadResult) -> float:
    return result.committed / result.seconds if result.seconds else 0.0


def percentiles_ms(latencies: list[float]) -> str:
    if not latencies:
        return "n/a"
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"{at(0.50):.1f} / {at(0.95):.1f} / {at(0.99):.1f}"


def table(points: list[Point]) -> str:
    lines = [
        "| clients | postings/s (1 process) | postings/s (2 processes) | p50/p95/p99 ms | pgbench tpcb-like tps "
        "| ratio (2 processes ÷ pgbench) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        two = f"{rate(p.two):,.0f}" + (" (1 process)" if p.two_processes == 1 else "")
        lines.append(
            f"| {p.clients} | {rate(p.one):,.0f} | {two} | {percentiles_ms(p.two.latencies)} "
            f"| {p.pgbench.tps:,.0f} | {p.ratio:.2f} |"
        )
    return "\n".join(lines)


def cpu_table(points: list[Point]) -> str:
    """CPU milliseconds per posting / per pgbench transaction, client and server, and how busy the machine was."""
    lines = [
        "| clients | ledger: client ms/posting | ledger: server ms/posting | machine busy "
        "| pgbench: client ms/tx | pgbench: server ms/tx | machine busy |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        load, bench = p.two, p.pgbench
        client = 1000 * load.client_cpu / load.committed if load.committed else 0.0
        server = 1000 * load.cpu.server_cores / rate(load) if load.cpu and rate(load) else 0.0
        load_busy = load.cpu.busy if load.cpu else 0.0
        bench_server = 1000 * bench.cpu.server_cores / bench.tps if bench.tps else 0.0
        lines.append(
            f"| {p.clients} | {client:.2f} | {server:.2f} | {load_busy:.0%} "
            f"| {1000 * bench.client_cpu_per_tx:.2f} | {bench_server:.2f} | {bench.cpu.busy:.0%} |"
        )
    return "\n".join(lines)


def verdict(points: list[Point]) -> str:
    at_target = next((p for p in points if p.clients == TARGET_CLIENTS), None)
    if at_target is None:
        return f"Target: ≥ {TARGET_RATIO} × pgbench tps at {TARGET_CLIENTS} clients: not measured in this run."
    met = "**met**" if at_target.ratio >= TARGET_RATIO else "**not met**"
    return (
        f"Target: ≥ {TARGET_RATIO} × pgbench tpcb-like tps at {TARGET_CLIENTS} clients (2 processes): {met} "
        f"({rate(at_target.two):,.0f} postings/s ÷ {at_target.pgbench.tps:,.0f} tps = {at_target.ratio:.2f})."
    )


def round_trips(*, autocommit: bool, pre_ping: bool) -> str:
    """How many times a posting waits for the server, as SQLAlchemy's asyncpg dialect talks to it."""
    if autocommit:
        count, parts = 1, "the call"
        ping = 1, "`;`"
    else:
        count, parts = 3, "BEGIN, the call, COMMIT"
        ping = 3, "BEGIN, `;`, ROLLBACK"
    if pre_ping:
        return f"Round trips per posting: {count + ping[0]} (pre-ping: {ping[1]}; then {parts})."
    return f"Round trips per posting: {count} ({parts})."


def section(points: list[Point], check: invariants.LedgerCheck, meta: dict[str, Any]) -> str:
    refused = sum(p.one.refused + p.two.refused for p in points)
    state = "ok" if check.ok else "**FAILED**"
    return "\n".join(
        [
            START_MARK,
            "## Ledger postings vs pgbench",
            "",
            f"Run `make bench-ledger` (`bench/ledger.py`) on {meta['date']}: {meta['nproc']} CPUs ({meta['cpu']}), "
            f"PostgreSQL {meta['pg_version']} (embedded, default settings: fsync and synchronous commit on), "
            f"Python {platform.python_version()}.",
            "",
            f"- A **posting** is one ledger call (`services.loyalty.ledger.credit` or `debit`) {meta['unit']}: one "
            "stored-function call that inserts the transaction under a unique idempotency key, moves the "
            "member's cached balance with a conditional update, consumes or creates expiry lots and writes two "
            "entries summing to zero. Half are earns (1–50 points, fresh key, lot expiring in a year), half "
            "spends of 1–5 points; an `InsufficientPoints` refusal writes nothing and is counted apart "
            f"({refused} in this run). Latency is a whole posting as the client sees it. {meta['round_trips']}",
            f"- {meta['members']:,} members created through `services.intake.signups.register`, each with an opening "
            f"balance of {OPENING_BALANCE:,}; each posting picks a member uniformly, so contention is light.",
            f"- Each point runs {meta['seconds']:g} s after {meta['warmup']:g} s of warm-up. One engine per "
            f"process (pool = its clients, no overflow, pool pre-ping {meta['pre_ping']}; the application's "
            f"default is {meta['app_pre_ping']}). **1 process**: all clients as asyncio tasks in one process. "
            "**2 processes**: clients split over two processes (one at 1 client), each with its own engine and "
            "event loop; percentiles are from this run. The 2-process figure is the comparison with pgbench, "
            f"C code running `-c C -j min(C,2)` on the same server (scale {meta['scale']}, after 2 s of warm-up; "
            "tpcb-like is BEGIN, three UPDATEs, a SELECT, an INSERT and END: seven round trips).",
            "",
            table(points),
            "",
            verdict(points),
            "",
            "CPU per posting (2-process run) and per pgbench transaction, sampled over the measured window: "
            "client is the load generator's own CPU (Python processes, or pgbench), server is every PostgreSQL "
            f"process; machine busy is the share of all {meta['nproc']} CPUs in use.",
            "",
            cpu_table(points),
            "",
            f"Ledger check after the load: {state} — {check.transactions:,} transactions, {check.entries:,} "
            f"entries, posted sum {check.posted_sum}, {check.unbalanced_transactions} unbalanced transactions, "
            f"{len(check.mismatched_accounts)} mismatched of {check.accounts_checked:,} accounts, "
            f"{check.lot_mismatches} lot mismatches.",
            END_MARK,
        ]
    )


# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per point (default 20)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each point (default 2)")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated client counts (default 1,8,32)")
    parser.add_argument("--members", type=int, default=2000, help="members to create (default 2000)")
    parser.add_argument("--scale", type=int, default=None, help="pgbench scale (default: the largest client count)")
    parser.add_argument(
        "--pre-ping",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test pooled connections before use (default: as the application, MEMBERFLOW_DATABASE_PRE_PING)",
    )
    parser.add_argument(
        "--autocommit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="post on AUTOCOMMIT connections, the application's path for stand-alone postings (default); "
        "--no-autocommit: in an ORM session with BEGIN/COMMIT, as postings inside a larger request do",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file to update")
    args = parser.parse_args(argv)
    try:
        args.clients = sorted({int(c) for c in args.clients.split(",") if c.strip()})
    except ValueError:
        parser.error("--clients takes comma-separated integers")
    if not args.clients or min(args.clients) < 1:
        parser.error("--clients needs positive integers")
    args.scale = args.scale or max(args.clients)
    if args.pre_ping is None:
        args.pre_ping = app_pre_ping()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on `kill`
    root = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
    try:
        log(f"starting PostgreSQL in {root} on port {server.port}")
        server.start()
        server.ensure_database(BENCH_DB)
        server.ensure_database(PGBENCH_DB)
        url = server.url(BENCH_DB)
        upgrade(url)
        log(f"creating {args.members:,} members with opening balances")
        member_ids = asyncio.run(seed_members(url, args.members))
        assert server.proc is not None
        server_cpu = ServerCpu(server.proc.pid)
        spec = LoadSpec(url, member_ids, args.warmup, args.seconds, args.pre_ping, args.autocommit)
        server.psql("VACUUM ANALYZE", BENCH_DB)
        log(f"pgbench -i -s {args.scale}")
        pgbench(server, "-i", "-q", "-s", str(args.scale), PGBENCH_DB)
        meta = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "pg_version": server.psql("SHOW server_version"),
            "members": len(member_ids),
            "seconds": args.seconds,
            "warmup": args.warmup,
            "scale": args.scale,
            "pre_ping": "on" if args.pre_ping else "off",
            "app_pre_ping": "on" if app_pre_ping() else "off",
            "unit": "alone on an AUTOCOMMIT connection (no session, no BEGIN/COMMIT)"
            if args.autocommit
            else "in its own session and transaction, committed",
            "round_trips": round_trips(autocommit=args.autocommit, pre_ping=args.pre_ping),
        }
        points = []
        for clients in args.clients:
            server.psql("CHECKPOINT")
            one = run_load(spec, server_cpu, clients, 1)
            log(f"{clients} clients, 1 process: {rate(one):,.0f} postings/s ({one.refused} refused)")
            processes = min(clients, 2)
            two = one
            if processes > 1:
                server.psql("CHECKPOINT")
                two = run_load(spec, server_cpu, clients, processes)
                log(f"{clients} clients, {processes} processes: {rate(two):,.0f} postings/s ({two.refused} refused)")
            server.psql("CHECKPOINT")
            reference = pgbench_run(server, server_cpu, clients, args.seconds)
            log(f"{clients} clients, pgbench tpcb-like: {reference.tps:,.0f} tps")
            points.append(Point(clients, one, two, processes, reference))
        log("checking the ledger")
        check = asyncio.run(check_ledger(url))
        print()
        print(table(points))
        print()
        print(verdict(points))
        print()
        print(cpu_table(points))
        print()
        print(f"Ledger check: {'ok' if check.ok else 'FAILED'} ({check.transactions:,} transactions)")
        write_section(args.out, section(points, check, meta), SECTION)
        print(f"Wrote {args.out}")
        if not check.ok:
            print(f"Ledger check failed: {check}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
