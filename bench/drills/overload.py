"""The overload drill: at 2x the ceiling measured in the same run, every welcome and first-purchase email still
arrives exactly once after the backlog drains.

Starts `memberflow dev` (bench/stack.py) with SMTP pointed at an aiosmtpd sink run here and the email rate limit
raised. The ceiling is the rate at which welcome emails arrive in the sink while 16 clients sign members up as
fast as they can (the second half of a 20 s window): the whole path a welcome takes (API, outbox, Temporal,
worker, SMTP), not just the dev server's raw start rate, which is several times higher and would say nothing
about when welcomes fall behind. Then it offers `factor` x that rate of sign-ups, each followed by the member's
order 1-5 s later, for `--seconds`, sampling the backlog on /metrics, waits for the backlog to drain and the sink
to go quiet, and counts per member: welcome emails, first-purchase emails (`purchase_thanks`), duplicates,
missing. Writes a section of docs/reliability.md.

    .venv/bin/python bench/drills/overload.py [--seconds 120] [--factor 2] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import log, marks, write_section  # noqa: E402
from sink import Sink, start_sink  # noqa: E402
from stack import ROOT, Stack, backlog, order_body  # noqa: E402

from devstack.embedded import free_port  # noqa: E402

SECTION = "overload-drill"
WELCOME, THANKS = "Welcome to", "Thank you for your first order"  # the built-in templates' English subjects


@dataclass
class Sample:
    t: float
    queued_starts: int
    queued_signals: int
    oldest_s: float
    emails: int


@dataclass
class Drive:
    """What the API accepted during one phase, and its latencies."""

    emails: dict[str, str] = field(default_factory=dict)  # address -> member id (sign-up accepted)
    ordered: set[str] = field(default_factory=set)  # member ids whose order was accepted
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


def _zone_at(hour: int) -> str:
    """A fixed-offset zone where it is about `hour` o'clock now, so quiet hours never defer the drill's sends."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def _sign_up(http: httpx.AsyncClient, drive: Drive, address: str) -> str | None:
    body = {"external_id": address, "email": address, "timezone": _zone_at(13), "consent": {"email": True}}
    started = time.perf_counter()
    response = await http.post("/api/v1/members", json=body)
    drive.latencies.append(time.perf_counter() - started)
    if response.status_code != 201:
        drive.errors[f"sign-up {response.status_code}"] += 1
        return None
    member_id = str(response.json()["id"])
    drive.emails[address] = member_id
    return member_id


async def _order(http: httpx.AsyncClient, drive: Drive, member_id: str) -> None:
    started = time.perf_counter()
    response = await http.post("/api/v1/orders", json=order_body(member_id, 1))
    drive.latencies.append(time.perf_counter() - started)
    if response.status_code != 201:
        drive.errors[f"order {response.status_code}"] += 1
    else:
        drive.ordered.add(member_id)


async def _measure_ceiling(http: httpx.AsyncClient, sink: Sink, run: str, args: argparse.Namespace) -> float:
    """Welcome emails per second arriving in the sink over the second half of a window of unlimited sign-ups.
    With `args.ceiling_mix` each sign-up is followed at once by its order, and the ceiling is members served
    per second: the welcome and first-purchase emails that arrived, halved (the sustained drill's mix)."""
    drive = Drive()
    began = time.monotonic()
    deadline = began + args.ceiling_seconds
    counter = iter(range(10**9))
    mix = getattr(args, "ceiling_mix", False)

    async def client() -> None:
        while time.monotonic() < deadline:
            member_id = await _sign_up(http, drive, f"c{run}-{next(counter)}@example.com")
            if mix and member_id is not None:
                await _order(http, drive, member_id)

    await asyncio.gather(*(client() for _ in range(args.clients)))
    half = began + args.ceiling_seconds / 2
    subjects = (WELCOME, THANKS) if mix else (WELCOME,)
    arrived = [r for r in sink.snapshot() if half <= r.at < deadline and r.subject.startswith(subjects)]
    log(f"ceiling window: {len(drive.emails)} sign-ups accepted, {len(arrived)} of {subjects} in its second half")
    return len(arrived) / len(subjects) / (args.ceiling_seconds / 2)


async def _sampler(http: httpx.AsyncClient, sink: Sink, samples: list[Sample], began: float, every: float) -> None:
    while True:
        try:
            starts, signals, oldest = backlog((await http.get("/metrics")).text)
            samples.append(Sample(time.monotonic() - began, starts, signals, oldest, len(sink.snapshot())))
        except httpx.HTTPError as error:
            log(f"/metrics unreadable: {error!r}")
        await asyncio.sleep(every)


async def _overload(http: httpx.AsyncClient, run: str, rate: float, seconds: float) -> Drive:
    """Open loop: member i signs up at i/rate seconds, whatever the API's latency, and orders 1-5 s later."""
    drive = Drive()
    began = time.monotonic()

    async def member(i: int) -> None:
        member_id = await _sign_up(http, drive, f"o{run}-{i}@example.com")
        if member_id is not None:
            await asyncio.sleep(random.uniform(1.0, 5.0))
            await _order(http, drive, member_id)

    tasks = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(member(i)))
    offered = time.monotonic() - began
    await asyncio.gather(*tasks)
    log(f"offered {len(tasks)} members in {offered:.0f} s ({len(tasks) / offered:.1f}/s); errors {dict(drive.errors)}")
    return drive


async def _drain(http: httpx.AsyncClient, sink: Sink, expected: int, quiet: float, timeout: float) -> bool:
    """Until the outbox is empty and the sink has received nothing for `quiet` seconds (after `expected` mails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        starts, signals, _ = backlog((await http.get("/metrics")).text)
        last = sink.last_at() or 0.0
        if starts == signals == 0 and len(sink.snapshot()) >= expected and time.monotonic() - last > quiet:
            return True
        await asyncio.sleep(1.0)
    return False


@dataclass
class Result:
    processes: str
    ceiling: float
    rate: float
    members: int
    ordered: int
    errors: dict[str, int]
    p99_ms: float
    welcome: Counter[str]
    thanks: Counter[str]
    samples: list[Sample]
    drain_s: float
    drained: bool

    def missing(self, counts: Counter[str], who: set[str]) -> int:
        return sum(1 for address in who if counts[address] == 0)

    def duplicates(self, counts: Counter[str]) -> int:
        return sum(n - 1 for n in counts.values() if n > 1)


@contextlib.asynccontextmanager
async def shop_client(stack: Stack, clients: int) -> AsyncIterator[httpx.AsyncClient]:
    """`clients` keep-alive connections to the stack's API under a fresh integration key (the shop's)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=stack.url, limits=limits, timeout=httpx.Timeout(60, pool=None)) as http:
        http.headers["Authorization"] = f"Bearer {stack.admin_key}"
        key = (await http.post("/api/v1/keys", json={"name": "drill-shop", "role": "integration"})).json()["key"]
        http.headers["Authorization"] = f"Bearer {key}"
        yield http


async def ceiling_then_drain(http: httpx.AsyncClient, sink: Sink, run: str, args: argparse.Namespace) -> float:
    """The ceiling of this run, then its backlog drained so the measured load starts from nothing queued."""
    ceiling = await _measure_ceiling(http, sink, run, args)
    log(f"ceiling: {ceiling:.1f} per second; draining its backlog")
    await _drain(http, sink, 0, args.quiet, args.drain_timeout)
    return ceiling


async def _drill(stack: Stack, sink: Sink, args: argparse.Namespace, processes: str) -> tuple[Result, Drive]:
    async with shop_client(stack, args.clients) as http:
        run = uuid.uuid4().hex[:8]
        ceiling = await ceiling_then_drain(http, sink, run, args)
        before = len(sink.snapshot())
        rate = args.factor * ceiling
        log(f"overload: {rate:.1f} members/s for {args.seconds:g} s")
        samples: list[Sample] = []
        began = time.monotonic()
        sampler = asyncio.create_task(_sampler(http, sink, samples, began, args.sample_every))
        drive = await _overload(http, run, rate, args.seconds)
        accepted_at = time.monotonic()
        drained = await _drain(
            http, sink, before + len(drive.emails) + len(drive.ordered), args.quiet, args.drain_timeout
        )
        sampler.cancel()
    last = sink.last_at() or accepted_at
    mails = [r for r in sink.snapshot() if r.to.startswith(f"o{run}-")]
    drive.latencies.sort()
    result = Result(
        processes=processes,
        ceiling=ceiling,
        rate=rate,
        members=len(drive.emails),
        ordered=len(drive.ordered),
        errors=dict(drive.errors),
        p99_ms=drive.latencies[max(0, int(len(drive.latencies) * 0.99) - 1)] * 1000 if drive.latencies else 0,
        welcome=Counter(r.to for r in mails if r.subject.startswith(WELCOME)),
        thanks=Counter(r.to for r in mails if r.subject.startswith(THANKS)),
        samples=samples,
        drain_s=max(0.0, last - accepted_at),
        drained=drained,
    )
    return result, drive


@contextlib.contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[tuple[Stack, Sink, str]]:
    """`memberflow dev` sending email to an aiosmtpd sink run here, with the email rate limit raised to
    `args.email_rate`; yields the stack, the sink and the API's process count line."""
    folder = Path(tempfile.mkdtemp(prefix="mf-drill-"))
    smtp_port = free_port()
    sink, controller = start_sink(smtp_port)
    stack = Stack(
        folder,
        {
            "MEMBERFLOW_MESSAGING__SMTP_HOST": "127.0.0.1",
            "MEMBERFLOW_MESSAGING__SMTP_PORT": str(smtp_port),
            "MEMBERFLOW_MESSAGING__SMTP_STARTTLS": "false",
            "MEMBERFLOW_MESSAGING__EMAIL_RATE_PER_SECOND": str(args.email_rate),
        },
    )
    try:
        log(f"starting memberflow dev (log: {stack.log_path})")
        processes = stack.start()
        yield stack, sink, processes
    finally:
        stack.stop()
        controller.stop()


def run(args: argparse.Namespace) -> tuple[Result, Drive]:
    with running_stack(args) as (stack, sink, processes):
        return asyncio.run(_drill(stack, sink, args, processes))


def verdict(result: Result, drive: Drive) -> list[str]:
    """The per-member counts: welcome for every accepted sign-up, purchase thanks for every accepted order."""
    signed = set(drive.emails)
    ordered = {address for address, member in drive.emails.items() if member in drive.ordered}
    return [
        f"| welcome | {len(signed):,} | {sum(result.welcome.values()):,} | "
        f"{sum(1 for a in signed if result.welcome[a] == 1):,} | {result.missing(result.welcome, signed)} | "
        f"{result.duplicates(result.welcome)} |",
        f"| purchase_thanks (first purchase) | {len(ordered):,} | {sum(result.thanks.values()):,} | "
        f"{sum(1 for a in ordered if result.thanks[a] == 1):,} | {result.missing(result.thanks, ordered)} | "
        f"{result.duplicates(result.thanks)} |",
    ]


def write(path: Path, result: Result, drive: Drive, args: argparse.Namespace) -> None:
    start, end = marks(SECTION)
    peak = max(result.samples, key=lambda s: s.queued_starts + s.queued_signals, default=None)
    oldest = max((s.oldest_s for s in result.samples), default=float("nan"))
    command = "make drill-overload" + ("" if args.seconds == 120 else f" ARGS='--seconds {args.seconds:g}'")
    samples = [
        f"| {s.t:,.0f} | {s.queued_starts:,} | {s.queued_signals:,} | {s.oldest_s:,.1f} | {s.emails:,} |"
        for s in result.samples
    ]
    body = "\n".join(
        [
            start,
            "## Overload drill: 2x the ceiling, nothing lost",
            "",
            f"Run `{command}` (`bench/drills/overload.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end (other work shared the machine).",
            "",
            f"- `memberflow dev` as `make run` starts it (API: {result.processes}), SMTP to an aiosmtpd sink in the "
            f"drill, email rate limit {args.email_rate:g}/s, {args.clients} HTTP connections.",
            f"- Ceiling, same run: **{result.ceiling:.1f} welcome emails/s** arriving in the sink while "
            f"{args.clients} clients signed members up without limit ({args.ceiling_seconds:g} s, second half).",
            f"- Offered **{result.rate:.1f} members/s** ({args.factor:g}x) for {args.seconds:g} s, each signing up "
            f"and ordering 1-5 s later: {result.members:,} sign-ups and {result.ordered:,} orders accepted, "
            f"errors {result.errors or 'none'}, API p99 {result.p99_ms:,.0f} ms.",
            f"- Peak backlog on `/metrics`: **{(peak.queued_starts if peak else 0):,} queued starts, "
            f"{(peak.queued_signals if peak else 0):,} queued signals**; oldest queued item **{oldest:,.0f} s**.",
            f"- Drain: the last email arrived **{result.drain_s:,.0f} s** after the last order was accepted"
            + ("" if result.drained else f" (**not drained** within {args.drain_timeout:g} s)")
            + ".",
            "",
            "| email | expected (members) | received | members with exactly 1 | missing | duplicates |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *verdict(result, drive),
            "",
            "Backlog samples (seconds from the start of the overload):",
            "",
            "| t s | queued starts | queued signals | oldest s | emails in sink |",
            "| ---: | ---: | ---: | ---: | ---: |",
            *samples,
            end,
        ]
    )
    write_section(path, body, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ceiling-seconds", type=float, default=20.0)
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--email-rate", type=float, default=1000.0)
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds without mail that count as drained")
    parser.add_argument("--drain-timeout", type=float, default=1200.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args()
    result, drive = run(args)
    write(args.out, result, drive, args)
    for line in verdict(result, drive):
        log(line)


if __name__ == "__main__":
    main()
