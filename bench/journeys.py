"""What a journey run costs Temporal and the worker, against the ceiling workflow measured in the same run.

Starts a throw-away embedded PostgreSQL (migrated, seeded with the built-ins), then:

1. **Histories**: each built-in journey run to its end on the time-skipping test server (the real worker and
   activities, waits skipped): history events and workflow tasks per run, by type.
2. **Business events**: a sign-up, a first order and a second order through the real intake services (the
   welcome and the follow-up running on that server): the Temporal actions (starts, signals) each one queues.
3. **Worker CPU**: on a file-backed dev server with `make run`'s flags, a worker process (bench/journey_worker.py:
   the real worker and channel workers, plus the ceiling workflow's) runs N ceiling workflows (a start, then two
   activities that do nothing), N welcome journeys, and N ceiling workflows again, 20 starts at a time. The
   welcome is the built-in's definition with its waits shortened to a minute (same steps, same sends), so it
   runs to completion on the real clock. The worker's CPU seconds per 1,000 runs and events per history are
   reported against the ceiling's.

`--label baseline` writes its own section (the figures before the engine changes, kept for comparison).

    flock /tmp/memberflow-bench.lock .venv/bin/python bench/journeys.py [--runs 500] [--label current]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from ceiling import CEILING_WORKFLOW
from journey_paths import PATHS, PathResult, business_events, count_history, describe, new_member, run_path
from pydantic import SecretStr
from report import cpu_model, log, write_section
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import MessagingSettings, Settings, TemporalSettings
from core.temporal import connect, data_converter, ensure_search_attributes
from devstack.embedded import EmbeddedPostgres, TemporalDevServer, find_binary, free_port
from models import JourneyRun
from services import journeys
from services.intake import bootstrap
from services.journeys.builtins import BUILTIN_JOURNEYS
from services.journeys.definition import Definition
from services.platform.audit import Actor
from worker import build_channel_workers, build_worker
from workflows import contracts
from workflows.contracts import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
MARKS = {"current": "journeys-bench", "baseline": "journeys-bench-baseline"}
BENCH_WELCOME = "bench_welcome"
CONCURRENCY = 20
# Messages are never held back here: quiet hours off, no cap, provider limits out of the way.
MESSAGING = MessagingSettings(
    quiet_hours_start="00:00",
    quiet_hours_end="00:00",
    frequency_cap=100,
    email_rate_per_second=10_000,
    sms_rate_per_second=10_000,
)


def settings_for(database_url: str, address: str, task_queue: str) -> Settings:
    return Settings(
        database_url=database_url,
        temporal=TemporalSettings(address=address, task_queue=task_queue),
        messaging=MESSAGING,
        secret_key=SecretStr("bench-secret-key-for-unsubscribe-links"),
    )


def bench_welcome() -> Definition:
    """The built-in welcome with every wait a minute long, under its own kind and without a trigger."""
    raw = copy.deepcopy(next(j for j in BUILTIN_JOURNEYS if j["kind"] == "welcome"))
    raw.update(kind=BENCH_WELCOME, name="Bench: welcome with one-minute waits")
    raw.pop("trigger", None)
    for step in raw["steps"]:
        for key in ("wait", "wait_for"):
            if key in step:
                step[key] = {k: v for k, v in step[key].items() if k not in ("days", "hours", "minutes")} | {
                    "minutes": 1
                }
    return Definition.model_validate(raw)


# --- 1 and 2: the time-skipping server ---------------------------------------------------------------------


async def on_time_skipping(database_url: str, sessions: Any) -> tuple[list[PathResult], dict[str, list[str]]]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=data_converter(TemporalSettings())
    )
    try:
        await ensure_search_attributes(env.client, SEARCH_ATTRIBUTES)
        queue = f"bench-paths-{uuid.uuid4().hex[:6]}"
        settings = settings_for(database_url, "unused", queue)
        results = []
        workers = [
            build_worker(env.client, sessions, queue, settings),
            *build_channel_workers(env.client, sessions, settings),
        ]
        async with contextlib.AsyncExitStack() as stack:
            for running in workers:
                await stack.enter_async_context(running)
            for kind, what, event in PATHS:
                results.append(await run_path(env.client, sessions, queue, kind, what, event))
                log(f"{kind} ({what}): {results[-1].events} events, {results[-1].counts}")
            actions = await business_events(env.client, sessions, queue)
        log(f"business events: {actions}")
        return results, actions
    finally:
        await env.shutdown()


# --- 3: worker CPU on the dev server ----------------------------------------------------------------------


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def until(check: Any, what: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(1)


async def ceiling_phase(client: Client, queue: str, runs: int, label: str) -> tuple[float, float]:
    """Start `runs` ceiling workflows 20 at a time and wait for all to complete; (seconds, events per run)."""
    gate = asyncio.Semaphore(CONCURRENCY)
    prefix = f"bench-ceiling-{label}-"

    async def one(n: int) -> None:
        async with gate:
            await client.start_workflow(CEILING_WORKFLOW, str(n), id=f"{prefix}{n}", task_queue=f"{queue}-ceiling")

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(runs)))
    query = (
        f'WorkflowType = "{CEILING_WORKFLOW}" AND ExecutionStatus = "Completed" AND WorkflowId STARTS_WITH "{prefix}"'
    )

    async def done() -> bool:
        return (await client.count_workflows(query)).count >= runs

    await until(done, f"ceiling {label}")
    seconds = time.perf_counter() - began
    events, _ = count_history(await client.get_workflow_handle(f"{prefix}0").fetch_history())
    return seconds, float(events)


async def welcome_phase(client: Client, sessions: Any, queue: str, runs: int) -> tuple[float, float, dict[str, int]]:
    """`runs` bench welcomes, 20 starts at a time, until every run has ended; (seconds, events, counts of one)."""
    members = [(await new_member(sessions, task_queue=queue))[0] for _ in range(runs)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(member_id: str) -> None:
        start = contracts.journey_start(
            contracts.JourneyInput(member_id=member_id, kind=BENCH_WELCOME), task_queue=queue, once=False
        )
        async with gate:
            await start.start(client)

    began = time.perf_counter()
    await asyncio.gather(*(one(m) for m in members))

    async def done() -> bool:
        async with sessions() as session:
            ended = await session.scalar(
                select(func.count()).where(JourneyRun.kind == BENCH_WELCOME, JourneyRun.status != "running")
            )
        return (ended or 0) >= runs

    await until(done, "bench welcomes")
    seconds = time.perf_counter() - began
    handle = client.get_workflow_handle(contracts.journey_workflow_id(BENCH_WELCOME, members[0]))
    events, counts = count_history(await handle.fetch_history())
    return seconds, float(events), counts


def start_profile(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy over the worker process while the welcomes run (`--profile x.svg`), with native frames off."""
    if out is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "-o", str(out), "--rate", "50", "--nonblocking"]
    if out.suffix != ".svg":  # collapsed stacks, one a line, for reading with a script
        cmd += ["--format", "raw"]
    return subprocess.Popen(cmd)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


async def on_dev_server(
    root: Path, database_url: str, sessions: Any, runs: int, profile: Path | None = None
) -> dict[str, Any]:
    temporal = TemporalDevServer(root / "temporal.db", free_port(), None, root / "temporal.log")
    temporal.start()
    queue = "bench-journeys"
    env = os.environ | {
        "MEMBERFLOW_DATABASE_URL": database_url,
        "MEMBERFLOW_TEMPORAL__ADDRESS": temporal.address,
        "MEMBERFLOW_TEMPORAL__TASK_QUEUE": queue,
        "MEMBERFLOW_MESSAGING__QUIET_HOURS_START": "00:00",
        "MEMBERFLOW_MESSAGING__QUIET_HOURS_END": "00:00",
        "MEMBERFLOW_MESSAGING__FREQUENCY_CAP": "100",
        "MEMBERFLOW_MESSAGING__EMAIL_RATE_PER_SECOND": "10000",
        "MEMBERFLOW_MESSAGING__SMS_RATE_PER_SECOND": "10000",
        # Marketing email needs a signed unsubscribe link: without the key every welcome email would fail unsent.
        "MEMBERFLOW_SECRET_KEY": "bench-secret-key-for-unsubscribe-links",
    }
    script = Path(__file__).with_name("journey_worker.py")
    worker = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError("the bench worker did not start")
        proc = psutil.Process(worker.pid)
        client = await connect(settings_for(database_url, temporal.address, queue).temporal)
        await ceiling_phase(client, queue, min(200, runs), "warm-up")  # a cold server and worker are slower
        figures: dict[str, Any] = {"ceiling": [], "welcome": []}
        for phase in ("ceiling", "welcome", "ceiling"):
            before = cpu_seconds(proc)
            if phase == "ceiling":
                seconds, events = await ceiling_phase(client, queue, runs, f"m{len(figures['ceiling'])}")
                counts: dict[str, int] = {}
            else:
                spy = start_profile(worker.pid, profile)
                seconds, events, counts = await welcome_phase(client, sessions, queue, runs)
                stop_profile(spy)
            cpu = cpu_seconds(proc) - before
            figures[phase].append({"seconds": seconds, "cpu": cpu, "events": events, "counts": counts})
            log(f"{phase}: {runs} runs in {seconds:.1f} s, worker CPU {cpu:.2f} s, {events:.0f} events per run")
        return figures
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        temporal.stop()


# --- the report --------------------------------------------------------------------------------------------


def section(meta: dict[str, Any], paths: list[PathResult], actions: dict[str, list[str]], cpu: dict[str, Any]) -> str:
    runs = meta["runs"]
    ceiling_cpu = sum(c["cpu"] for c in cpu["ceiling"]) / len(cpu["ceiling"]) * 1000 / runs
    ceiling_events = cpu["ceiling"][0]["events"]
    welcome = cpu["welcome"][0]
    welcome_cpu = welcome["cpu"] * 1000 / runs
    each_ceiling = ", ".join(f"{c['cpu'] * 1000 / runs:.2f}" for c in cpu["ceiling"])
    mark = MARKS[meta["label"]]
    title = "## Journey runs: history events, workflow tasks, worker CPU"
    if meta["label"] == "baseline":
        title += " (baseline, before the engine changes)"
    lines = [
        f"<!-- {mark}:start -->",
        title,
        "",
        f"Run `make bench-journeys` (`bench/journeys.py{' --label baseline' if meta['label'] == 'baseline' else ''}`) "
        f"at commit {meta['commit']} on {meta['when']}: {meta['cpus']} CPUs ({meta['cpu']}), Python "
        f"{platform.python_version()}; load average {meta['load'][0]:.1f} at the start, {meta['load'][1]:.1f} at "
        "the end (the machine is shared).",
        "",
        "Each built-in run to its end on the time-skipping test server (real worker and activities):",
        "",
        "| journey | path | result | events | workflow tasks | activities | local activities | upserts | timers "
        "| sent |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in paths:
        c = r.counts
        lines.append(
            f"| {r.kind} | {r.what} | {r.result} | {r.events} | {c['workflow tasks']} | {c['activities']} | "
            f"{c['local activities (markers)']} | {c['search-attribute upserts']} | {c['timers']} | "
            f"{', '.join(r.sent) or 'nothing'} |"
        )
    lines += [
        "",
        "Temporal actions queued by each business event (one member, through the intake services):",
        "",
        "| event | actions |",
        "| --- | --- |",
        *(f"| {name} | {describe(items)} |" for name, items in actions.items()),
        "",
        f"Worker CPU on the dev server (file-backed, `make run`'s pragmas), {runs:,} runs per phase, "
        f"{CONCURRENCY} starts at a time, measured ceiling, welcome, ceiling:",
        "",
        "| workflow | events per history | worker CPU s per 1,000 runs | × ceiling |",
        "| --- | ---: | ---: | ---: |",
        f"| ceiling (a start, two empty activities) | {ceiling_events:.0f} | {ceiling_cpu:.2f} "
        f"({each_ceiling}) | 1.00 |",
        f"| welcome, to completion (waits of a minute) | {welcome['events']:.0f} | {welcome_cpu:.2f} | "
        f"{welcome_cpu / ceiling_cpu:.2f} |",
        "",
        f"Events per welcome history / ceiling: **{welcome['events'] / ceiling_events:.2f}**; worker CPU per welcome "
        f"/ ceiling: **{welcome_cpu / ceiling_cpu:.2f}**.",
        "",
        f"<!-- {mark}:end -->",
    ]
    return "\n".join(lines)


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mf-bench-journeys-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        postgres = EmbeddedPostgres(root / "pg", free_port(), root / "postgres.log")
        postgres.start()
        try:
            postgres.ensure_database("bench")
            database_url = postgres.url("bench")
            await asyncio.to_thread(upgrade, database_url)
            engine = create_engine(settings_for(database_url, "unused", "unused"), pool_size=30)
            sessions = create_session_factory(engine)
            async with sessions() as session:
                await bootstrap.seed(session)
                await journeys.create(session, bench_welcome(), actor=Actor.system("bench"))
                await session.commit()
            paths, actions = await on_time_skipping(database_url, sessions)
            cpu = await on_dev_server(root, database_url, sessions, args.runs, args.profile)
            await engine.dispose()
        finally:
            postgres.stop()
    meta = {
        "label": args.label,
        "runs": args.runs,
        "commit": commit(),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": psutil.cpu_count(),
        "cpu": cpu_model(),
        "load": (load_before, os.getloadavg()[0]),
    }
    body = section(meta, paths, actions, cpu)
    print(body)
    write_section(args.out, body, MARKS[args.label])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="runs per worker-CPU phase")
    parser.add_argument("--label", choices=sorted(MARKS), default="current")
    parser.add_argument("--profile", type=Path, help="write a py-spy flame graph of the worker's welcome phase")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    asyncio.run(main(parser.parse_args()))
