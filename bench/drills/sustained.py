"""Sustained load below the ceiling: at `--load` (0.8) x the welcome ceiling measured in the same run, each member
signs up and orders 5-60 s later, for `--seconds` (120). The target: the welcome email reaches the SMTP sink within
10 s of sign-up at p99, every welcome and first-purchase email exactly once.

It reuses the overload drill's pieces (bench/drills/overload.py: the stack with its SMTP sink, the ceiling, the
sign-up and order requests, the drain) and adds, per member, the time from the sign-up request to the welcome's
arrival in the sink, and samples of every backlog gauge on /metrics over time: the outbox, the worker's task
queues in Temporal (workflow and activity tasks waiting, and their age) and the journeys not yet begun. Writes a
section of docs/reliability.md.

    .venv/bin/python bench/drills/sustained.py [--seconds 120] [--load 0.8] [--order-after 5..60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from overload import THANKS, WELCOME, Drive, _drain, _order, _sign_up, ceiling_then_drain, running_stack, shop_client  # noqa: E402
from report import log, marks, write_section  # noqa: E402
from sink import Sink  # noqa: E402
from stack import ROOT, Stack, backlog, journeys_not_begun, task_queue_backlog  # noqa: E402
from where import Profile, cpu_seconds  # noqa: E402

SECTION = "sustained-drill"
QUEUE = "memberflow"  # the task queue `memberflow dev` runs its worker on (settings.temporal.task_queue)


@dataclass
class Sample:
    t: float
    outbox: int
    workflow_tasks: float
    workflow_age_s: float
    activity_tasks: float
    email_tasks: float
    not_begun: float
    not_begun_age_s: float
    welcomes: int
    scrape_ms: float


@dataclass
class Timed(Drive):
    """Drive, plus when each member's sign-up request was sent (time.monotonic(), the sink's clock)."""

    signed_at: dict[str, float] = field(default_factory=dict)  # address -> sign-up request sent


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _sampler(http: httpx.AsyncClient, sink: Sink, run: str, samples: list[Sample], began: float) -> None:
    prefix = f"s{run}-"
    while True:
        try:
            asked = time.perf_counter()
            text = (await http.get("/metrics")).text
            scrape_ms = (time.perf_counter() - asked) * 1000
            starts, signals, _ = backlog(text)
            workflow, workflow_age = task_queue_backlog(text, QUEUE, "workflow")
            activity, _ = task_queue_backlog(text, QUEUE, "activity")
            email, _ = task_queue_backlog(text, f"{QUEUE}-email", "activity")
            waiting, waiting_age = journeys_not_begun(text)
            welcomes = sum(1 for r in sink.snapshot() if r.to.startswith(prefix) and r.subject.startswith(WELCOME))
            samples.append(
                Sample(
                    time.monotonic() - began,
                    starts + signals,
                    workflow,
                    workflow_age,
                    activity,
                    email,
                    waiting,
                    waiting_age,
                    welcomes,
                    scrape_ms,
                )
            )
        except httpx.HTTPError as error:
            log(f"/metrics unreadable: {error!r}")
        await asyncio.sleep(5.0)


async def _sustain(http: httpx.AsyncClient, run: str, rate: float, args: argparse.Namespace) -> Timed:
    """Open loop: member i signs up at i/rate s, whatever the API's latency, and orders 5-60 s later."""
    drive = Timed()
    low, high = args.order_after
    began = time.monotonic()

    async def member(i: int) -> None:
        address = f"s{run}-{i}@example.com"
        drive.signed_at[address] = time.monotonic()
        member_id = await _sign_up(http, drive, address)
        if member_id is not None:
            await asyncio.sleep(random.uniform(low, high))
            await _order(http, drive, member_id)

    tasks = []
    for i in range(int(rate * args.seconds)):
        await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(member(i)))
    offered = time.monotonic() - began
    log(f"offered {len(tasks)} members in {offered:.0f} s ({len(tasks) / offered:.1f}/s); waiting for their orders")
    await asyncio.gather(*tasks)
    log(f"orders placed; errors {dict(drive.errors)}")
    return drive


@dataclass
class Result:
    processes: str
    ceiling: float
    rate: float
    drive: Timed
    latencies: list[float]  # seconds from sign-up to the welcome's arrival, one per member that got one
    welcome: Counter[str]
    thanks: Counter[str]
    samples: list[Sample]
    drained: bool
    load_s: float  # from the first sign-up to the last order accepted
    cpu: dict[str, float]  # CPU seconds per part of the stack over the load
    profile: dict[str, list[tuple[str, float]]]


async def _drill(stack: Stack, sink: Sink, args: argparse.Namespace, processes: str) -> Result:
    async with shop_client(stack, args.clients) as http:
        run = uuid.uuid4().hex[:8]
        ceiling = await ceiling_then_drain(http, sink, run, args)
        before = len(sink.snapshot())
        rate = args.load * ceiling
        log(
            f"sustained: {rate:.1f} members/s for {args.seconds:g} s, orders {args.order_after[0]:g}-"
            f"{args.order_after[1]:g} s after sign-up"
        )
        samples: list[Sample] = []
        assert stack.proc is not None
        cpu_before, began = cpu_seconds(stack.proc.pid), time.monotonic()
        spy = Profile(stack.proc.pid, stack.log_path.parent) if args.profile else None
        sampler = asyncio.create_task(_sampler(http, sink, run, samples, began))
        drive = await _sustain(http, run, rate, args)
        load_s = time.monotonic() - began
        cpu_after = cpu_seconds(stack.proc.pid)
        profile = spy.stop() if spy else {}
        expected = before + len(drive.emails) + len(drive.ordered)
        drained = await _drain(http, sink, expected, args.quiet, args.drain_timeout)
        sampler.cancel()
    mails = [r for r in sink.snapshot() if r.to.startswith(f"s{run}-")]
    first_welcome: dict[str, float] = {}
    for mail in mails:
        if mail.subject.startswith(WELCOME):
            first_welcome.setdefault(mail.to, mail.at)
    latencies = [at - drive.signed_at[to] for to, at in first_welcome.items() if to in drive.emails]
    return Result(
        processes=processes,
        ceiling=ceiling,
        rate=rate,
        drive=drive,
        latencies=latencies,
        welcome=Counter(r.to for r in mails if r.subject.startswith(WELCOME)),
        thanks=Counter(r.to for r in mails if r.subject.startswith(THANKS)),
        samples=samples,
        drained=drained,
        load_s=load_s,
        cpu={part: cpu_after[part] - cpu_before[part] for part in cpu_after},
        profile=profile,
    )


def _counts(result: Result) -> list[str]:
    signed = set(result.drive.emails)
    ordered = {a for a, member in result.drive.emails.items() if member in result.drive.ordered}
    lines = []
    for name, counts, who in (("welcome", result.welcome, signed), ("purchase_thanks", result.thanks, ordered)):
        exactly = sum(1 for a in who if counts[a] == 1)
        missing = sum(1 for a in who if counts[a] == 0)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        lines.append(f"| {name} | {len(who):,} | {sum(counts.values()):,} | {exactly:,} | {missing} | {duplicates} |")
    return lines


def _cpu_lines(result: Result) -> list[str]:
    """CPU per part of the stack over the load, as seconds, cores busy and the share of the machine."""
    cores = os.cpu_count() or 1
    lines = ["| part | CPU s | cores busy | share of the machine |", "| --- | ---: | ---: | ---: |"]
    for part, seconds in result.cpu.items():
        busy = seconds / result.load_s
        lines.append(f"| {part} | {seconds:,.1f} | {busy:.2f} | {busy / cores:.0%} |")
    return lines


def _profile_lines(result: Result) -> list[str]:
    lines = []
    for part, frames in result.profile.items():
        shown = "; ".join(f"`{name}` {share:.0%}" for name, share in frames)
        lines.append(f"- {part}: {shown or 'no samples'}")
    return lines


def _fmt(value: float, digits: int = 0) -> str:
    return "?" if math.isnan(value) else f"{value:,.{digits}f}"


def write(path: Path, result: Result, args: argparse.Namespace) -> None:
    start, end = marks(SECTION)
    lat = result.latencies
    p50, p95, p99 = (_percentile(lat, q) for q in (0.5, 0.95, 0.99))
    within = sum(1 for x in lat if x <= args.target)
    api = sorted(result.drive.latencies)
    low, high = args.order_after
    command = "make drill-sustained" + ("" if args.seconds == 120 else f" ARGS='--seconds {args.seconds:g}'")
    verdict = "met" if p99 <= args.target else "**missed**"
    samples = [
        f"| {s.t:,.0f} | {s.outbox:,} | {_fmt(s.workflow_tasks)} | {_fmt(s.workflow_age_s, 1)} | "
        f"{_fmt(s.activity_tasks)} | {_fmt(s.email_tasks)} | {_fmt(s.not_begun)} | {_fmt(s.not_begun_age_s, 1)} | "
        f"{s.welcomes:,} | {s.scrape_ms:,.0f} |"
        for s in result.samples
    ]
    body = "\n".join(
        [
            start,
            f"## Sustained drill: {args.load:g}x the ceiling, welcome within {args.target:g} s",
            "",
            f"Run `{command}` (`bench/drills/sustained.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end (other work shared the machine).",
            "",
            f"- `memberflow dev` as `make run` starts it (API: {result.processes}), SMTP to an aiosmtpd sink in the "
            f"drill, email rate limit {args.email_rate:g}/s, {args.clients} HTTP connections.",
            (
                f"- Ceiling, same run: **{result.ceiling:.1f} members/s** served with both emails (each sign-up "
                "followed at once by its order; `--no-ceiling-mix` measures welcome emails/s of sign-ups alone)."
                if args.ceiling_mix
                else f"- Ceiling, same run: **{result.ceiling:.1f} welcome emails/s** (as in the overload drill)."
            ),
            f"- Offered **{result.rate:.1f} members/s** ({args.load:g}x) for {args.seconds:g} s, each ordering "
            f"{low:g}-{high:g} s after signing up: {len(result.drive.emails):,} sign-ups and "
            f"{len(result.drive.ordered):,} orders accepted, errors {dict(result.drive.errors) or 'none'}, "
            f"API p99 {_percentile(api, 0.99) * 1000:,.0f} ms"
            + ("" if result.drained else f" (**not drained** within {args.drain_timeout:g} s)")
            + ".",
            f"- Welcome email, sign-up request to arrival in the sink: **p50 {_fmt(p50, 1)} s, p95 {_fmt(p95, 1)} s, "
            f"p99 {_fmt(p99, 1)} s** (target p99 <= {args.target:g} s: {verdict}); {within:,} of {len(lat):,} "
            f"within {args.target:g} s; slowest {_fmt(max(lat, default=math.nan), 1)} s.",
            "",
            "| email | expected (members) | received | members with exactly 1 | missing | duplicates |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *_counts(result),
            "",
            f"Where the CPU went during the load ({result.load_s:,.0f} s, `memberflow dev`'s processes, psutil):",
            "",
            *_cpu_lines(result),
            "",
            *(
                [
                    "py-spy during the load (share of samples with the function among the innermost frames):",
                    "",
                    *_profile_lines(result),
                    "",
                ]
                if result.profile
                else []
            ),
            "Backlog on `/metrics` every 5 s from the start of the load (task queue `memberflow` unless named;"
            " `?`: Temporal did not answer):",
            "",
            "| t s | outbox queued | workflow tasks | oldest s | activity tasks | email tasks | journeys not begun "
            "| oldest s | welcomes in sink | /metrics ms |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *samples,
            end,
        ]
    )
    write_section(path, body, SECTION)


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("..")
    return float(low), float(high or low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--load", type=float, default=0.8, help="offered sign-ups as a multiple of the ceiling")
    parser.add_argument("--order-after", type=_range, default=(5.0, 60.0), help="seconds, e.g. 5..60")
    parser.add_argument("--target", type=float, default=10.0, help="p99 seconds from sign-up to welcome")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ceiling-seconds", type=float, default=20.0)
    parser.add_argument(
        "--ceiling-mix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the ceiling with each sign-up followed by its order (the drill's own mix), not sign-ups alone",
    )
    parser.add_argument("--email-rate", type=float, default=1000.0)
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds without mail that count as drained")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker and the API during the load")
    args = parser.parse_args()
    with running_stack(args) as (stack, sink, processes):
        result = asyncio.run(_drill(stack, sink, args, processes))
    write(args.out, result, args)
    for line in _counts(result):
        log(line)
    lat = result.latencies
    log(
        f"welcome latency p50 {_percentile(lat, 0.5):.1f} s, p95 {_percentile(lat, 0.95):.1f} s, "
        f"p99 {_percentile(lat, 0.99):.1f} s"
    )


if __name__ == "__main__":
    main()
