"""Worker killed: SIGKILL the worker at random moments, 20 times, while members sign up and order through the
API with real SMTP to an aiosmtpd sink; then every welcome and first-purchase email must have arrived exactly
once, every journey be at its step, every member's points match their acknowledged orders, and the ledger check
pass. Writes its section of docs/reliability.md.

    .venv/bin/python bench/drills/worker_killed.py [--kills 20] [--seconds 120] [--rate 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faultload import Verdict, drive, settle  # noqa: E402
from faultreport import clients, machine_line, outcomes, verdict_line, write  # noqa: E402
from faultstack import FaultStack, fault_stack  # noqa: E402
from report import log  # noqa: E402
from sink import Sink  # noqa: E402

SECTION = "worker-killed-drill"


async def kill_worker(stack: FaultStack, kills: int, gap: tuple[float, float], restarts: list[float]) -> None:
    """`kills` times: let the restarted worker run a random while, SIGKILL it, start it again at once."""
    for n in range(kills):
        await asyncio.sleep(random.uniform(*gap))
        stack.worker.kill()
        log(f"kill {n + 1}/{kills}: worker SIGKILLed; restarting")
        restarts.append(await asyncio.to_thread(stack.start_worker))


async def _drill(stack: FaultStack, sink: Sink, args: argparse.Namespace) -> tuple[Verdict, dict[str, object]]:
    async with clients(stack) as (admin, shop):
        restarts: list[float] = []
        began = time.monotonic()
        chaos = asyncio.create_task(kill_worker(stack, args.kills, (args.min_gap, args.max_gap), restarts))
        acked = await drive(shop, args.rate, args.seconds, until=chaos)
        await chaos
        load_s = time.monotonic() - began
        log("load and kills done; waiting for the engine to settle")
        verdict = await settle(stack, sink, admin, acked, timeout=args.settle_timeout)
    figures: dict[str, object] = {
        "load_s": load_s,
        "restarts": restarts,
        "seen": shop.seen,
        "retries": shop.retries,
        "failed_messages": stack.psql("SELECT template, reason FROM messages WHERE status = 'failed'"),
        "takeovers": _takeovers(stack),
    }
    return verdict, figures


def _takeovers(stack: FaultStack) -> int:
    """Kills that landed between a send's claim and its hand-over (the end of SMTP DATA): the retry took the claim over
    and sent the message (the worker logs each takeover)."""
    log_path = stack.worker.log_path
    return log_path.read_bytes().count(b"claim taken over") if log_path.exists() else 0


def report(verdict: Verdict, figures: dict[str, object], args: argparse.Namespace) -> list[str]:
    restarts = figures["restarts"]
    assert isinstance(restarts, list)
    failed = figures["failed_messages"]
    assert isinstance(failed, list)
    command = "make drill-worker-killed" + (" ARGS=--quick" if args.quick else "")
    return [
        f"## Worker killed: SIGKILL {len(restarts)} times under load, every email once",
        "",
        machine_line(command, "worker_killed.py"),
        "",
        "- The drill's own stack (`bench/drills/faultstack.py`: embedded PostgreSQL, Temporal dev server on a "
        "file database, one worker, one API process), SMTP to an aiosmtpd sink in the drill.",
        f"- Load: {args.rate:g} members/s signing up, each ordering 1-4 s later (every third twice), for "
        f"{figures['load_s']:.0f} s: **{verdict.members:,} sign-ups and {verdict.orders:,} orders acknowledged**.",
        f"- **{len(restarts)} SIGKILLs** of the worker, {args.min_gap:g}-{args.max_gap:g} s after each restart; "
        f"the worker was polling again {statistics.median(restarts) if restarts else 0:.1f} s (median) after each "
        f"kill (slowest {max(restarts, default=0):.1f} s).",
        f"- Answers the shop saw: {outcomes(figures['seen'])}; retries {figures['retries']}.",  # type: ignore[arg-type]
        f"- Settled (every email in, outbox empty, journeys at their steps) **{verdict.drain_s:.0f} s** after the "
        f"load; then 10 s more to catch a late duplicate.",
        f"- Sends a kill interrupted after the claim and before the end of SMTP DATA, then sent by the retry "
        f"(claim taken over): {figures['takeovers']}.",
        f"- Messages recorded `failed`: {len(failed)}"
        + (f" ({'; '.join(sorted({f'{t}: {r}' for t, r in failed}))})" if failed else "")
        + ".",
        "",
        *verdict.table(),
        "",
        verdict_line(verdict.ok, verdict.problems()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0, help="load this long at least, and until the kills end")
    parser.add_argument("--rate", type=float, default=3.0, help="sign-ups per second")
    parser.add_argument("--min-gap", type=float, default=0.5)
    parser.add_argument("--max-gap", type=float, default=5.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true", help="8 kills, 30 s of load at 2/s")
    args = parser.parse_args()
    if args.quick:
        args.kills, args.seconds, args.rate, args.max_gap = 8, 30.0, 2.0, 3.0
    with fault_stack() as (stack, sink):
        verdict, figures = asyncio.run(_drill(stack, sink, args))
    lines = report(verdict, figures, args)
    write(SECTION, lines)
    print("\n".join(lines))
    sys.exit(0 if verdict.ok else 1)


if __name__ == "__main__":
    main()
