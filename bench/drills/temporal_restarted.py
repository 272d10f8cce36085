"""Temporal restarted: stop the Temporal dev server (file database, so its state survives) for a while during the
sign-up and order load, then start it again. The API keeps accepting writes (their workflow starts and signals
wait in the outbox), and afterwards nothing is lost: every email once, every journey at its step, every
member's points exact, the ledger check ok. Reports the outbox's peak backlog and how long it took to drain.
Writes its section of docs/reliability.md.

    .venv/bin/python bench/drills/temporal_restarted.py [--down 30] [--seconds 90] [--rate 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faultload import Verdict, drive, settle  # noqa: E402
from faultreport import clients, machine_line, outcomes, verdict_line, write  # noqa: E402
from faultstack import FaultStack, fault_stack  # noqa: E402
from report import log  # noqa: E402
from sink import Sink  # noqa: E402

SECTION = "temporal-restarted-drill"
PENDING = "SELECT count(*) FROM temporal_outbox WHERE dispatched_at IS NULL"


@dataclass
class Outage:
    """When Temporal was down, and the outbox's undelivered rows sampled every second from the stop on."""

    stopped_at: float = 0.0
    started_at: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the stop, rows pending)

    @property
    def peak(self) -> int:
        return max((n for _, n in self.samples), default=0)

    def drained_after_restart(self) -> float | None:
        """Seconds from the restart to the first sample with nothing pending (after the peak)."""
        restart = self.started_at - self.stopped_at
        for t, n in self.samples:
            if t >= restart and n == 0:
                return t - restart
        return None


async def restart_temporal(stack: FaultStack, outage: Outage, after: float, down: float) -> None:
    await asyncio.sleep(after)
    outage.stopped_at = time.monotonic()
    await asyncio.to_thread(stack.temporal.stop)
    log(f"Temporal stopped; starting it again in {down:g} s")
    await asyncio.sleep(down)
    await asyncio.to_thread(stack.temporal.start)
    outage.started_at = time.monotonic()
    log("Temporal started again")


async def sample_outbox(stack: FaultStack, outage: Outage) -> None:
    while True:
        if outage.stopped_at:
            pending = await asyncio.to_thread(stack.scalar, PENDING)
            outage.samples.append((time.monotonic() - outage.stopped_at, pending))
        await asyncio.sleep(1.0)


async def _drill(stack: FaultStack, sink: Sink, args: argparse.Namespace) -> tuple[Verdict, Outage, dict[str, object]]:
    outage = Outage()
    async with clients(stack) as (admin, shop):
        began = time.monotonic()
        sampler = asyncio.create_task(sample_outbox(stack, outage))
        fault = asyncio.create_task(restart_temporal(stack, outage, args.after, args.down))
        acked = await drive(shop, args.rate, args.seconds, until=fault)
        await fault
        load_s = time.monotonic() - began
        verdict = await settle(stack, sink, admin, acked, timeout=args.settle_timeout)
        sampler.cancel()
    worker_alive = stack.worker.alive()
    return verdict, outage, {"load_s": load_s, "seen": shop.seen, "retries": shop.retries, "worker": worker_alive}


def report(verdict: Verdict, outage: Outage, figures: dict[str, object], args: argparse.Namespace) -> list[str]:
    drained = outage.drained_after_restart()
    command = "make drill-temporal-restarted" + (" ARGS=--quick" if args.quick else "")
    return [
        "## Temporal restarted under load: the outbox delivers what waited",
        "",
        machine_line(command, "temporal_restarted.py"),
        "",
        "- The drill's own stack (`bench/drills/faultstack.py`), SMTP to an aiosmtpd sink in the drill.",
        f"- Load: {args.rate:g} members/s signing up, each ordering 1-4 s later (every third twice), for "
        f"{figures['load_s']:.0f} s: **{verdict.members:,} sign-ups and {verdict.orders:,} orders acknowledged**.",
        f"- The Temporal dev server stopped (SIGTERM) {args.after:g} s into the load and started again over the same "
        f"file database **{outage.started_at - outage.stopped_at:.0f} s** later. The worker "
        + ("kept running and reconnected by itself." if figures["worker"] else "**had exited** by the end.")
        + "",
        f"- Answers the shop saw: {outcomes(figures['seen'])}; retries {figures['retries']}.",  # type: ignore[arg-type]
        f"- Outbox: **peak {outage.peak:,} undelivered starts and signals** while Temporal was down; "
        + (
            f"**drained {drained:.0f} s** after Temporal came back"
            if drained is not None
            else "**not drained** while sampled"
        )
        + f"; everything settled {verdict.drain_s:.0f} s after the load.",
        "",
        *verdict.table(),
        "",
        verdict_line(verdict.ok, verdict.problems()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=30.0, help="seconds Temporal stays stopped")
    parser.add_argument("--after", type=float, default=20.0, help="seconds into the load that Temporal stops")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--rate", type=float, default=3.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true", help="15 s down, 10 s into 40 s of load at 2/s")
    args = parser.parse_args()
    if args.quick:
        args.down, args.after, args.seconds, args.rate = 15.0, 10.0, 40.0, 2.0
    with fault_stack() as (stack, sink):
        verdict, outage, figures = asyncio.run(_drill(stack, sink, args))
    lines = report(verdict, outage, figures, args)
    write(SECTION, lines)
    print("\n".join(lines))
    sys.exit(0 if verdict.ok else 1)


if __name__ == "__main__":
    main()
