"""Open journeys held by one worker: its memory per 1,000 sleeping journeys (all cached, and with the cache
smaller than the open runs) and its CPU when a timer fires for all of them, against the raw Temporal loop (a
workflow with one timer and nothing else, bench/sleeper.py) in the same run; and what creating one workflow
instance costs in each sandbox mode.

A time-skipping Temporal test server holds the runs, so a wait of days fires when the script skips time,
and a throw-away embedded PostgreSQL holds the journey's definition and progress. The worker is its own
process (bench/worker_serve.py, the real `build_worker`), read through /proc: RSS, and user+system CPU of all
its threads. Every journey is the real JourneyWorkflow on a published definition: wait 3 days, then exit.

    .venv/bin/python bench/worker.py [--journeys 2000] [--small-cache 500] [--profile] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from instances import instance_costs
from report import cpu_model, log
from sleeper import SLEEPER_WORKFLOW
from spy import Recorder
from sqlalchemy import func, select
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from worker_report import write_report

from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import Settings, TemporalSettings
from core.temporal import data_converter, ensure_search_attributes
from devstack.embedded import EmbeddedPostgres, find_binary, free_port
from models import JourneyRun
from services import journeys
from services.intake import bootstrap
from services.platform.audit import Actor
from workflows import contracts

ROOT = Path(__file__).resolve().parent.parent
SLEEP = timedelta(days=3)
STEP = "sleep"


@dataclass(frozen=True)
class Phase:
    label: str
    role: str  # raw: bench/sleeper.py only; journey: the real worker
    sandbox: str
    cache: int


@dataclass
class Measured:
    phase: Phase
    n: int
    start_seconds: float = 0.0
    start_cpu: float = 0.0  # worker CPU seconds from the first start until all runs sleep
    rss_idle: float = 0.0  # MiB, polling, before any run
    rss_asleep: float = 0.0  # MiB, every run asleep
    fire_seconds: float = 0.0
    fire_cpu: float = 0.0  # worker CPU seconds from the time skip until every run completed
    rss_after: float = 0.0
    profile: dict[str, float] = field(default_factory=dict)  # share of py-spy samples, starts and firing


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def settle(pid: int, done: Callable[[], Awaitable[bool]], *, timeout: float = 1800) -> None:
    """Until `done()` holds and the worker used under 2% of a core for a second (nothing left in flight)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if cpu_seconds(pid) - before < 0.02 and await done():
            return
    raise TimeoutError("the worker did not settle")


async def skip(client: Client, duration: timedelta) -> None:
    """Move the test server's clock on by `duration` (as `WorkflowEnvironment.sleep`), allowing for the
    minutes the server may take to let thousands of timers fire while it skips."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await client.test_service.unlock_time_skipping_with_sleep(request, timeout=timedelta(minutes=30))


class Stack:
    """The test server, the database with the bench journey, and the worker process of the current phase."""

    def __init__(self, env: WorkflowEnvironment, url: str, kind: str, logs: Path) -> None:
        self.env, self.url, self.kind, self.logs = env, url, kind, logs
        self.client: Client = env.client
        self.engine = create_engine(Settings(database_url=url), pool_size=4)
        self.sessions = create_session_factory(self.engine)

    def spawn(self, phase: Phase, task_queue: str) -> subprocess.Popen[str]:
        target = self.client.service_client.config.target_host
        cmd = [sys.executable, str(ROOT / "bench" / "worker_serve.py"), "--role", phase.role, "--address", target]
        cmd += ["--task-queue", task_queue, "--database-url", self.url, "--sandbox", phase.sandbox]
        cmd += ["--cache", str(phase.cache)]
        with open(self.logs / f"worker-{task_queue}.log", "w") as errors:  # the child keeps its own copy
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker for {phase.label} did not start; see {self.logs}")
        return proc

    async def runs(self, status: str, step: str | None = None) -> int:
        stmt = select(func.count()).select_from(JourneyRun).where(JourneyRun.kind == self.kind)
        stmt = stmt.where(JourneyRun.status == status)
        if step is not None:
            stmt = stmt.where(JourneyRun.current_step == step)
        async with self.sessions() as session:
            return int((await session.execute(stmt)).scalar_one())


async def _bounded(calls: list[Callable[[], Awaitable[object]]], width: int = 40) -> list[object]:
    gate = asyncio.Semaphore(width)

    async def one(call: Callable[[], Awaitable[object]]) -> object:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


async def _start_all(stack: Stack, phase: Phase, task_queue: str, n: int) -> list[str]:
    ids: list[str] = []
    calls: list[Callable[[], Awaitable[object]]] = []
    for _ in range(n):
        member = str(uuid.uuid4())
        if phase.role == "raw":
            run_id = f"sleeper-{member}"

            def call(run_id: str = run_id) -> Awaitable[object]:
                return stack.client.start_workflow(
                    SLEEPER_WORKFLOW, int(SLEEP.total_seconds()), id=run_id, task_queue=task_queue
                )
        else:
            start = contracts.journey_start(
                contracts.JourneyInput(member_id=member, kind=stack.kind), task_queue=task_queue, once=True
            )
            run_id = start.id

            def call(start: contracts.WorkflowStart = start) -> Awaitable[object]:
                return start.start(stack.client)

        ids.append(run_id)
        calls.append(call)
    await _bounded(calls)
    return ids


async def _count_raw(stack: Stack, ids: list[str], *, asleep: bool) -> int:
    async def describe(run_id: str) -> object:
        return await stack.client.get_workflow_handle(run_id).describe()

    found = await _bounded([lambda run_id=run_id: describe(run_id) for run_id in ids])
    if asleep:  # started, task scheduled/started/completed, timer started
        return sum(1 for d in found if d.status == WorkflowExecutionStatus.RUNNING and (d.history_length or 0) >= 5)  # type: ignore[attr-defined]
    return sum(1 for d in found if d.status == WorkflowExecutionStatus.COMPLETED)  # type: ignore[attr-defined]


async def measure(stack: Stack, phase: Phase, n: int, *, profile: bool) -> Measured:
    task_queue = f"bench-worker-{uuid.uuid4().hex[:8]}"
    proc = stack.spawn(phase, task_queue)
    result = Measured(phase, n)
    try:
        pid = proc.pid
        await asyncio.sleep(2)
        spy = Recorder(pid, stack.logs / f"profile-{task_queue}.txt") if profile else None
        result.rss_idle = rss_mib(pid)
        raw = phase.role == "raw"
        before, began = cpu_seconds(pid), time.monotonic()
        ids = await _start_all(stack, phase, task_queue, n)
        result.start_seconds = time.monotonic() - began

        async def asleep() -> bool:
            count = await (_count_raw(stack, ids, asleep=True) if raw else stack.runs("running", STEP))
            return count == n

        await settle(pid, asleep)
        result.start_cpu = cpu_seconds(pid) - before
        result.rss_asleep = rss_mib(pid)
        log(f"{phase.label}: {n} started in {result.start_seconds:.0f} s; RSS asleep {result.rss_asleep:.0f} MiB")
        before, began = cpu_seconds(pid), time.monotonic()
        await skip(stack.client, SLEEP + timedelta(minutes=1))

        async def woke() -> bool:
            count = await (_count_raw(stack, ids, asleep=False) if raw else stack.runs("completed"))
            return count >= n

        await settle(pid, woke)
        result.fire_seconds = time.monotonic() - began - 1.0  # settle's last idle second
        result.fire_cpu = cpu_seconds(pid) - before
        result.rss_after = rss_mib(pid)
        log(f"{phase.label}: timers fired, worker CPU {result.fire_cpu:.1f} s; RSS {result.rss_after:.0f} MiB")
        if spy is not None:
            result.profile = spy.stop()
            log(f"{phase.label}: profile {result.profile} ({spy.out})")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return result


async def _bench_journey(url: str) -> str:
    """A published definition shaped like a journey's long wait: wait 3 days, then exit."""
    kind = f"bench_sleep_{uuid.uuid4().hex[:8]}"
    raw = {"kind": kind, "name": "Bench: one long wait", "steps": [
        {"id": STEP, "wait": {"days": SLEEP.days}}, {"id": "done", "exit": {}}]}  # fmt: skip
    engine = create_engine(Settings(database_url=url), pool_size=2)
    async with create_session_factory(engine)() as session:
        await bootstrap.seed(session)
        await journeys.create(session, journeys.parse(raw), actor=Actor.system("bench"))
        await session.commit()
    await engine.dispose()
    return kind


def phases(args: argparse.Namespace) -> list[Phase]:
    big = args.journeys + 1000
    wanted = [
        Phase("raw loop (ceiling)", "raw", "pass_through", big),
        Phase("journey, pass_through, all cached", "journey", "pass_through", big),
        Phase(f"journey, pass_through, cache {args.small_cache}", "journey", "pass_through", args.small_cache),
        Phase("journey, strict, all cached", "journey", "strict", big),
    ]
    return [phase for index, phase in enumerate(wanted) if str(index) in args.phases]


async def run(args: argparse.Namespace) -> tuple[list[Measured], dict[str, float]]:
    costs = await instance_costs()
    log("instance cost: " + ", ".join(f"{name} {us:.0f} us" for name, us in costs.items()))
    root = Path(tempfile.mkdtemp(prefix="mf-worker-bench-"))
    server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
    server.start()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=data_converter(TemporalSettings())
    )
    try:
        server.ensure_database("bench")
        url = server.url("bench")
        await asyncio.to_thread(upgrade, url)
        await ensure_search_attributes(env.client, contracts.SEARCH_ATTRIBUTES)
        stack = Stack(env, url, await _bench_journey(url), root)
        results = []
        for phase in phases(args):
            n = args.journeys if phase.role == "journey" else args.raw or args.journeys
            stack.kind = await _bench_journey(url)  # a fresh kind per phase: counts are per phase
            results.append(await measure(stack, phase, n, profile=args.profile))
        await stack.engine.dispose()
        return results, costs
    finally:
        await env.shutdown()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=2000)  # 10,000: see docs/scaling.md
    parser.add_argument("--raw", type=int, default=0, help="raw-loop runs (default: as many as journeys)")
    parser.add_argument("--small-cache", type=int, default=500)
    parser.add_argument("--phases", default="0123", help="which phases to run, by index")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker (its share of samples)")
    args = parser.parse_args()
    results, costs = asyncio.run(run(args))
    text = write_report(results, costs, cpu=cpu_model(), out=None if args.no_write else args.out)
    print(text)


if __name__ == "__main__":
    main()
