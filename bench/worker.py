"""Open journeys held by one worker, measured for real: N sleeping runs started on a file-backed dev server
(`make run`'s flags), the worker's RSS and its sticky cache sampled as the count grows, then every timer firing
in one burst, with the worker's CPU per firing; against the raw Temporal loop (a workflow with one timer and
nothing else, bench/sleeper.py) in the same run. Also what creating one workflow instance costs per sandbox mode.

Each journey is the real JourneyWorkflow on a published definition (wait, then exit) run by the real worker
(bench/worker_serve.py: `build_worker`, its own process, read through /proc, with the SDK's metrics on a local
Prometheus port: cache size, hits, misses, forced evictions). Starts go in batches of 500, 40 at a time; each
batch's wait is chosen so that every run of the phase wakes at about the same moment (minute-granular waits:
within 30 s of it), so the firing is one burst of N timers, as when a campaign's runs wake together.

    flock /tmp/memberflow-bench.lock .venv/bin/python bench/worker.py [--runs 10000] [--small-cache 1000]
        [--phases 012] [--profile] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from instances import instance_costs
from report import cpu_model, log
from sleeper import SLEEPER_WORKFLOW
from spy import Recorder
from sqlalchemy import func, select
from temporalio.client import Client
from worker_probe import TASKS, cache_metrics, cpu_seconds, rss_mib
from worker_report import write_report

from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import Settings, TemporalSettings, WorkerSettings
from core.temporal import connect
from devstack.embedded import EmbeddedPostgres, TemporalDevServer, free_port
from models import JourneyRun
from services import journeys
from services.intake import bootstrap
from services.platform.audit import Actor
from workflows import contracts

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500
WIDTH = 40  # starts in flight at once
SAMPLE_SECONDS = 2.0
# Start rates to plan the wake-up moment by before a phase has measured its own (this machine, docs/scaling.md);
# a faster machine only waits longer for the burst, a slower one has its first batches wake a little early.
RATE_GUESS = {"raw": 150.0, "journey": 60.0}
# How long after the planned last start the burst comes: a raw run sleeps whole seconds, a journey whole minutes
# (each batch's wait rounded to the nearest minute, so it wakes within 30 s of the moment).
MARGIN = {"raw": 15.0, "journey": 45.0}


@dataclass(frozen=True)
class Phase:
    label: str
    role: str  # raw: bench/sleeper.py only; journey: the real worker
    cache: int
    fire: bool = True  # False: the runs sleep a day and the phase ends once they all sleep (growth only)


@dataclass(frozen=True)
class Sample:
    seconds: float
    count: int  # started (growth) or completed (firing)
    rss: float  # MiB
    cpu: float  # worker CPU seconds since the phase began
    server_cpu: float
    cache: dict[str, float]


@dataclass
class Measured:
    phase: Phase
    n: int
    start_seconds: float = 0.0
    start_cpu: float = 0.0  # worker CPU seconds from the first start until all runs sleep
    rss_idle: float = 0.0  # MiB, polling, before any run
    rss_asleep: float = 0.0  # MiB, every run asleep
    cache_asleep: float = 0.0  # runs the worker's sticky cache held then
    woke_early: int = 0  # runs that completed before the firing was metered (excluded from its figures)
    fire_seconds: float = 0.0  # from the first completion to the last
    fire_cpu: float = 0.0  # worker CPU seconds while the timers fired
    fire_server_cpu: float = 0.0
    fire_misses: float = 0.0  # sticky-cache misses while firing: runs replayed from their history
    rss_after: float = 0.0
    growth: list[Sample] = field(default_factory=list)
    firing: list[Sample] = field(default_factory=list)
    profile: dict[str, float] = field(default_factory=dict)

    @property
    def fired(self) -> int:
        return self.n - self.woke_early


class Stack:
    """The dev server, the database with the phase's journeys, and the worker process of the current phase."""

    def __init__(self, client: Client, server_pid: int, url: str, logs: Path) -> None:
        self.client, self.server_pid, self.url, self.logs = client, server_pid, url, logs
        self.sessions = create_session_factory(create_engine(Settings(database_url=url), pool_size=4))
        self.kinds: dict[int, str] = {}  # wait in minutes -> the phase's journey that waits that long

    def spawn(self, phase: Phase, task_queue: str, metrics_port: int) -> subprocess.Popen[str]:
        target = self.client.service_client.config.target_host
        cmd = [sys.executable, str(ROOT / "bench" / "worker_serve.py"), "--role", phase.role, "--address", target]
        cmd += ["--task-queue", task_queue, "--database-url", self.url, "--cache", str(phase.cache)]
        cmd += ["--metrics-port", str(metrics_port)]
        with open(self.logs / f"worker-{task_queue}.log", "w") as errors:  # the child keeps its own copy
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker for {phase.label} did not start; see {self.logs}")
        return proc

    async def kind_waiting(self, minutes: int) -> str:
        """A published journey of this phase: wait `minutes`, then exit (made on first use)."""
        if minutes not in self.kinds:
            kind = f"bench_sleep_{uuid.uuid4().hex[:8]}"
            raw = {"kind": kind, "name": f"Bench: sleep {minutes} min", "steps": [
                {"id": "sleep", "wait": {"minutes": minutes}}, {"id": "done", "exit": {}}]}  # fmt: skip
            async with self.sessions() as session:
                await journeys.create(session, journeys.parse(raw), actor=Actor.system("bench"))
                await session.commit()
            self.kinds[minutes] = kind
        return self.kinds[minutes]

    async def count(self, task_queue: str, status: str) -> int:
        query = f'TaskQueue = "{task_queue}" AND ExecutionStatus = "{status}"'
        return (await self.client.count_workflows(query)).count


async def _bounded(calls: list[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(WIDTH)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def _start_batch(stack: Stack, phase: Phase, task_queue: str, count: int, wake: float) -> None:
    """`count` runs that sleep until about `wake` (monotonic seconds)."""
    left = wake - time.monotonic()
    calls: list[Callable[[], Awaitable[object]]] = []
    if phase.role == "raw":
        seconds = max(1, round(left))
        for _ in range(count):
            run_id = f"sleeper-{uuid.uuid4()}"
            calls.append(
                lambda run_id=run_id: stack.client.start_workflow(
                    SLEEPER_WORKFLOW, seconds, id=run_id, task_queue=task_queue
                )
            )
    else:
        kind = await stack.kind_waiting(max(1, round(left / 60)))
        for _ in range(count):
            inp = contracts.JourneyInput(member_id=str(uuid.uuid4()), kind=kind)
            start = contracts.journey_start(inp, task_queue=task_queue, once=True)
            calls.append(lambda start=start: start.start(stack.client))
    await _bounded(calls)


class Meter:
    """Samples of the worker (RSS, CPU, cache) and the server's CPU, relative to the phase's start."""

    def __init__(self, stack: Stack, pid: int, metrics_port: int) -> None:
        self.stack, self.pid, self.port = stack, pid, metrics_port
        self.began = time.monotonic()
        self.cpu0, self.server0 = cpu_seconds(pid), cpu_seconds(stack.server_pid)
        self.tasks0 = 0.0  # workflow tasks run before the phase (set by `start`)

    async def start(self) -> None:
        self.tasks0 = (await cache_metrics(self.port))[TASKS]

    async def sample(self, count: int) -> Sample:
        return Sample(
            seconds=time.monotonic() - self.began,
            count=count,
            rss=rss_mib(self.pid),
            cpu=cpu_seconds(self.pid) - self.cpu0,
            server_cpu=cpu_seconds(self.stack.server_pid) - self.server0,
            cache=await cache_metrics(self.port),
        )


async def _taken_up(stack: Stack, meter: Meter, phase: Phase) -> float:
    """Runs of this phase the worker has taken up: a journey's row is written by its first task; a raw run's
    first task is its only one until it wakes."""
    if phase.role == "journey":
        stmt = select(func.count()).select_from(JourneyRun).where(JourneyRun.kind.in_(list(stack.kinds.values())))
        async with stack.sessions() as session:
            return float((await session.execute(stmt)).scalar_one())
    return (await cache_metrics(meter.port))[TASKS] - meter.tasks0


async def _caught_up(stack: Stack, meter: Meter, phase: Phase, runs: int, *, timeout: float = 300) -> None:
    """Until the worker has taken up `runs` runs of this phase. (Waiting for an idle worker instead would never
    end on a loaded machine.)"""
    deadline = time.monotonic() + timeout
    while await _taken_up(stack, meter, phase) < runs:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker did not take up {runs} runs")
        await asyncio.sleep(0.25)


async def _grow(stack: Stack, phase: Phase, queue: str, n: int, meter: Meter, result: Measured) -> float:
    """Start the phase's runs, sampling as they grow; the moment (monotonic) they are set to wake."""
    began = time.monotonic()
    if not phase.fire:
        wake = began + 86_400.0
    else:
        wake = began + n / RATE_GUESS[phase.role] * 1.2 + MARGIN[phase.role]
    started = 0
    while started < n:
        count = min(BATCH, n - started)
        await _start_batch(stack, phase, queue, count, wake)
        started += count
        # Each sample waits for the worker to take up the batch, so RSS and the cache are those of `started`
        # sleeping runs.
        await _caught_up(stack, meter, phase, started)
        result.growth.append(sample := await meter.sample(started))
        cached = sample.cache["sticky_cache_size"]
        log(f"{phase.label}: {started:,} asleep, RSS {sample.rss:.0f} MiB, {cached:,.0f} cached")
        if started == count and phase.fire:  # the first batch shows this phase's rate: plan by it if slower
            rate = count / (time.monotonic() - began)
            wake = max(wake, time.monotonic() + (n - started) / rate * 1.2 + MARGIN[phase.role])
    result.start_seconds = time.monotonic() - began
    await asyncio.sleep(1.0)  # the last batch's task completions reach the server
    last = await meter.sample(n)
    result.growth.append(last)
    result.start_cpu, result.rss_asleep, result.cache_asleep = last.cpu, last.rss, last.cache["sticky_cache_size"]
    return wake


async def _fire(stack: Stack, queue: str, n: int, wake: float, meter: Meter, result: Measured) -> None:
    """Wait for the burst, then sample until every run has completed."""
    await asyncio.sleep(max(0.0, wake - 35 - time.monotonic()))
    result.woke_early = await stack.count(queue, "Completed")
    first = await meter.sample(result.woke_early)
    result.firing.append(first)
    completed, first_done = result.woke_early, None
    deadline = time.monotonic() + 900
    while completed < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n - completed} runs did not wake")
        await asyncio.sleep(SAMPLE_SECONDS)
        completed = await stack.count(queue, "Completed")
        now = await meter.sample(completed)
        result.firing.append(now)
        if first_done is None and completed > result.woke_early:
            first_done = now.seconds - SAMPLE_SECONDS / 2
    done = result.firing[-1].seconds
    await asyncio.sleep(1.0)  # the last completions' local activities and task replies
    last = await meter.sample(n)
    result.firing.append(last)
    result.fire_seconds = done - SAMPLE_SECONDS / 2 - (first_done or first.seconds)
    result.fire_cpu = last.cpu - first.cpu
    result.fire_server_cpu = last.server_cpu - first.server_cpu
    result.fire_misses = last.cache["sticky_cache_miss"] - first.cache["sticky_cache_miss"]
    result.rss_after = last.rss


async def measure(stack: Stack, phase: Phase, n: int, *, profile: bool) -> Measured:
    queue = f"bench-worker-{uuid.uuid4().hex[:8]}"
    port = free_port()
    stack.kinds = {}
    proc = stack.spawn(phase, queue, port)
    result = Measured(phase, n)
    try:
        await asyncio.sleep(2)
        result.rss_idle = rss_mib(proc.pid)
        spy = Recorder(proc.pid, stack.logs / f"profile-{queue}.txt") if profile else None
        meter = Meter(stack, proc.pid, port)
        await meter.start()
        wake = await _grow(stack, phase, queue, n, meter, result)
        log(
            f"{phase.label}: {n:,} started in {result.start_seconds:.0f} s; RSS asleep {result.rss_asleep:.0f} MiB,"
            f" cache {result.cache_asleep:.0f}; the burst in {wake - time.monotonic():.0f} s"
        )
        if phase.fire:
            await _fire(stack, queue, n, wake, meter, result)
            log(
                f"{phase.label}: {result.fired:,} timers fired in {result.fire_seconds:.0f} s, worker CPU "
                f"{result.fire_cpu:.1f} s ({result.fire_server_cpu:.1f} s the server's), "
                f"{result.fire_misses:.0f} cache misses; RSS {result.rss_after:.0f} MiB"
            )
        if spy is not None:
            result.profile = spy.stop()
    finally:
        proc.terminate()  # a graceful stop with thousands of runs cached can take minutes: then it is killed
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    return result


def _runs(args: argparse.Namespace, phase: Phase) -> int:
    if phase.role == "raw":
        return int(args.raw_runs or args.runs)
    return int(args.runs if phase.fire else args.small_runs or args.runs)


def phases(args: argparse.Namespace) -> list[Phase]:
    default = WorkerSettings().max_cached_workflows
    wanted = [
        Phase(f"raw loop (ceiling), cache {default:,}", "raw", default),
        Phase(f"journey, cache {default:,} (default)", "journey", default),
        Phase(f"journey, cache {args.small_cache:,} (growth only)", "journey", args.small_cache, fire=False),
    ]
    return [wanted[int(index)] for index in args.phases]  # in the order given


async def run(args: argparse.Namespace) -> tuple[list[Measured], dict[str, float]]:
    costs = await instance_costs()
    log("instance cost: " + ", ".join(f"{name} {us:.0f} us" for name, us in costs.items()))
    root = Path(tempfile.mkdtemp(prefix="mf-worker-bench-"))
    postgres = EmbeddedPostgres(root / "pg", free_port(), root / "postgres.log")
    temporal = TemporalDevServer(root / "temporal.db", free_port(), None, root / "temporal.log")
    postgres.start()
    temporal.start()
    try:
        postgres.ensure_database("bench")
        url = postgres.url("bench")
        await asyncio.to_thread(upgrade, url)
        client = await connect(TemporalSettings(address=temporal.address))
        assert temporal.proc is not None
        stack = Stack(client, temporal.proc.pid, url, root)
        async with stack.sessions() as session:
            await bootstrap.seed(session)
            await session.commit()
        results: list[Measured] = []
        for phase in phases(args):
            results.append(await measure(stack, phase, _runs(args, phase), profile=args.profile))
            if not args.no_write:  # each phase's figures are kept even if a later phase fails
                write_report(results, costs, cpu=cpu_model(), runs=args.runs, out=args.out)
        return results, costs
    finally:
        temporal.stop()
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="sleeping runs per phase")
    parser.add_argument("--raw-runs", type=int, default=0, help="runs of the raw loop (default: --runs)")
    parser.add_argument("--small-cache", type=int, default=1000)
    parser.add_argument("--small-runs", type=int, default=0, help="runs of the small-cache phase (default: --runs)")
    parser.add_argument("--phases", default="102", help="phases to run, in order: 0 raw, 1 default cache, 2 small")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker (its share of samples)")
    args = parser.parse_args()
    if args.runs < BATCH:
        parser.error(f"--runs must be at least {BATCH}")
    results, costs = asyncio.run(run(args))
    text = write_report(results, costs, cpu=cpu_model(), runs=args.runs, out=None if args.no_write else args.out)
    print(text)


if __name__ == "__main__":
    main()
