"""Live ingest through the HTTP API with journeys live, against the dev server's raw start and signal-with-start
rates measured on the same server in the same run.

Starts `memberflow dev` (embedded PostgreSQL, the Temporal dev server with `make run`'s flags, the worker and the
API processes) in a throw-away folder, measures the dev server's ceiling with a Temporal client (16 concurrent
starts, then 16 concurrent signal-with-starts, of a workflow no worker runs), then drives the API with 16 clients:
sign-ups (the welcome journey starts), first orders, second orders, one request per member and phase. After each
phase it reads the Temporal backlog (queued outbox starts and signals, oldest age) from /metrics. Writes a
section of docs/benchmarks.md.

    .venv/bin/python bench/ingest.py [--members 1500] [--clients 16] [--ceiling-seconds 10]
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import api_profile
import httpx
from cpu_split import ROLES, Split, api_processes
from report import log, marks, write_section
from spy import Recorder
from stack import ROOT, Stack, backlog, order_body

from core.settings import TemporalSettings
from core.temporal import connect

SECTION = "ingest-bench"
START_MARK, END_MARK = marks(SECTION)


@dataclass
class Phase:
    name: str
    rate: float
    p50: float
    p99: float
    errors: int
    queued_starts: int
    queued_signals: int
    oldest_s: float
    cpu: dict[str, float]  # CPU seconds per role (cpu_split.ROLES) during the phase
    elapsed: float
    requests: int
    profile: dict[str, float]  # share of the API processes' busy samples per api_profile.PARTS (with --profile)


async def ceiling(address: str, clients: int, seconds: float, *, with_signal: bool) -> float:
    """Starts (or signal-with-starts) per second of a workflow type no worker polls for."""
    client = await connect(TemporalSettings(address=address))
    done = 0
    deadline = time.perf_counter() + seconds
    queue = f"bench-ceiling-{uuid.uuid4().hex[:6]}"

    async def one() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            extra = {"start_signal": "event", "start_signal_args": [{}]} if with_signal else {}
            await client.start_workflow("BenchCeiling", id=f"ceiling-{uuid.uuid4()}", task_queue=queue, **extra)
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return done / (time.perf_counter() - began)


@dataclass
class Watch:
    """What is recorded around each phase: the CPU split, and py-spy on each API process when profiling."""

    split: Split
    profile_dir: Path | None

    def begin(self, name: str) -> list[Recorder]:
        self.split.start()
        if self.profile_dir is None:
            return []
        slug = name.split(" (")[0].replace(" ", "-")
        return [Recorder(pid, self.profile_dir / f"{slug}-api-{pid}.txt") for pid in sorted(self.split.api_pids)]

    def end(self, recorders: list[Recorder]) -> tuple[dict[str, float], dict[str, float]]:
        for recorder in recorders:
            recorder.stop()
        return self.split.stop(), api_profile.split([recorder.out for recorder in recorders])


async def _phase(
    http: httpx.AsyncClient,
    watch: Watch,
    name: str,
    requests: list[tuple[str, dict[str, object]]],
    clients: int,
    created: list[str] | None = None,
) -> Phase:
    latencies: list[float] = []
    errors = 0
    pending = iter(requests)

    async def client() -> None:
        nonlocal errors
        for path, body in pending:
            started = time.perf_counter()
            response = await http.post(path, json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                errors += 1
            elif created is not None:
                created.append(response.json()["id"])

    recorders = watch.begin(name)
    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    cpu, profile = watch.end(recorders)
    latencies.sort()
    queued_starts, queued_signals, oldest_s = backlog((await http.get("/metrics")).text)
    return Phase(
        name=name,
        rate=len(latencies) / elapsed,
        p50=statistics.median(latencies) * 1000,
        p99=latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        errors=errors,
        queued_starts=queued_starts,
        queued_signals=queued_signals,
        oldest_s=oldest_s,
        cpu=cpu,
        elapsed=elapsed,
        requests=len(latencies),
        profile=profile,
    )


async def _load(stack: Stack, args: argparse.Namespace, watch: Watch) -> list[Phase]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, limits=limits, timeout=60) as http:
        key = (await http.post("/api/v1/keys", json={"name": "bench-shop", "role": "integration"})).json()["key"]
        http.headers["Authorization"] = f"Bearer {key}"
        run = uuid.uuid4().hex[:8]
        signups = [
            (
                "/api/v1/members",
                {"external_id": f"bench-{run}-{i}", "email": f"b{run}{i}@example.com", "consent": {"email": True}},
            )
            for i in range(args.members)
        ]
        ids: list[str] = []
        phases = [await _phase(http, watch, "sign-ups (welcome journey starts)", signups, args.clients, ids)]
        log(_line(phases[-1]))
        for number, name in ((1, "first orders (welcome exits, first purchase starts)"), (2, "second orders")):
            orders = [("/api/v1/orders", order_body(member_id, number)) for member_id in ids]
            phases.append(await _phase(http, watch, name, orders, args.clients))
            log(_line(phases[-1]))
    return phases


def _line(p: Phase) -> str:
    return (
        f"{p.name:55s} {p.rate:6.1f}/s p50 {p.p50:6.0f} ms p99 {p.p99:6.0f} ms errors {p.errors} "
        f"queued {p.queued_starts} starts / {p.queued_signals} signals, oldest {p.oldest_s:.0f} s; CPU ms/request "
        + ", ".join(f"{role} {p.cpu[role] * 1000 / p.requests:.1f}" for role in ROLES)
    )


def run(args: argparse.Namespace) -> tuple[str, float, float, list[Phase]]:
    folder = Path(tempfile.mkdtemp(prefix="mf-ingest-bench-"))
    extra = {"MEMBERFLOW_DEV__BACKGROUND_NICE": str(args.background_nice)} if args.background_nice else None
    stack = Stack(folder, extra)
    log("starting memberflow dev")
    processes = stack.start()
    try:
        address = f"127.0.0.1:{stack.temporal_port}"
        starts = asyncio.run(ceiling(address, args.clients, args.ceiling_seconds, with_signal=False))
        log(f"dev server ceiling: {starts:.0f} starts/s")
        signal_starts = asyncio.run(ceiling(address, args.clients, args.ceiling_seconds, with_signal=True))
        log(f"dev server ceiling: {signal_starts:.0f} signal-with-starts/s")
        assert stack.proc is not None
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        watch = Watch(Split(stack.proc.pid, set(api_processes(stack.proc.pid))), args.profile)
        phases = asyncio.run(_load(stack, args, watch))
    finally:
        stack.stop()
    return processes, starts, signal_starts, phases


def write(path: Path, result: tuple[str, float, float, list[Phase]], args: argparse.Namespace) -> None:
    processes, starts, signal_starts, phases = result
    rows = [
        f"| {p.name} | {p.rate:,.1f} | {p.p50:,.0f} | {p.p99:,.0f} | {p.errors} | {p.queued_starts:,} | "
        f"{p.queued_signals:,} | {p.oldest_s:,.0f} | {p.rate / starts:.2f} |"
        for p in phases
    ]
    cpus = os.cpu_count() or 1
    cpu_rows = [
        f"| {p.name.split(' (')[0]} | "
        + " | ".join(f"{p.cpu[role] * 1000 / p.requests:,.1f}" for role in ROLES)
        + f" | {sum(p.cpu.values()) * 1000 / p.requests:,.1f} | {sum(p.cpu.values()) / (p.elapsed * cpus):.0%} |"
        for p in phases
    ]
    body = "\n".join(
        [
            START_MARK,
            "## Live ingest through the API, journeys live",
            "",
            f"Run `make bench-ingest` (`bench/ingest.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end (other work shared the machine: compare rows of one run).",
            "",
            f"- `memberflow dev` as `make run` starts it (API: {processes}"
            + (f"; worker and Temporal at nice {args.background_nice}" if args.background_nice else "")
            + f"), {args.members} members, {args.clients} "
            "HTTP clients (asyncio tasks in one Python process, httpx, keep-alive), one request per member and phase.",
            f"- Ceiling, same dev server, same run: **{starts:,.0f} starts/s** and **{signal_starts:,.0f} "
            f"signal-with-starts/s** ({args.clients} concurrent Temporal client calls, a workflow type no worker "
            f"polls, {args.ceiling_seconds:g} s each).",
            "- Queued = outbox rows not yet delivered to Temporal when the phase ended (`/metrics`).",
            "",
            "| phase | requests/s | p50 ms | p99 ms | errors | queued starts | queued signals | oldest s | "
            "÷ raw starts/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "CPU milliseconds per request during each phase, by process (all API processes together; PostgreSQL is "
            "every server process; the load generator is this script), and the share of the machine's CPUs these "
            "processes used (the rest was idle or went to other work on the shared machine):",
            "",
            "| phase | " + " | ".join(ROLES) + " | all | share of the machine |",
            "| --- |" + " ---: |" * (len(ROLES) + 2),
            *cpu_rows,
            *_profile_table(phases),
            END_MARK,
        ]
    )
    write_section(path, body, SECTION)


def _profile_table(phases: list[Phase]) -> list[str]:
    """With --profile: where the API processes' busy py-spy samples fell, and that share of their CPU per request."""
    if not any(p.profile for p in phases):
        return []
    names = [p.name.split(" (")[0] for p in phases]
    rows = [
        f"| {part} | "
        + " | ".join(
            f"{p.profile.get(part, 0):.0%} ({p.profile.get(part, 0) * p.cpu['API'] * 1000 / p.requests:.1f} ms)"
            for p in phases
        )
        + " |"
        for part in api_profile.PARTS
    ]
    return [
        "",
        "py-spy in every API process during each phase (`--profile`, 100 samples/s; the SQL of the delivery runs in "
        "the greenlet part too): share of the busy samples, and that share of the API's CPU per request:",
        "",
        "| part | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--background-nice", type=int, default=0, help="MEMBERFLOW_DEV__BACKGROUND_NICE for the stack (default 0)"
    )
    parser.add_argument("--profile", type=Path, help="record py-spy (collapsed stacks) of each API process per phase")
    args = parser.parse_args()
    write(args.out, run(args), args)


if __name__ == "__main__":
    main()
