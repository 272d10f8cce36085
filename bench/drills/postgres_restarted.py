"""PostgreSQL restarted: stop the database (fast shutdown: every connection cut) for a while during the sign-up
and order load, then start it again. While it is down the API must answer 503 `database_unavailable` in the
error envelope (counted; a 500 is a product bug), the shop's retries with the same Idempotency-Key must succeed
afterwards, and nothing may be half-written: every acknowledged order stored exactly once with its points, the
ledger check ok, every email once. Writes its section of docs/reliability.md.

    .venv/bin/python bench/drills/postgres_restarted.py [--down 15] [--seconds 60] [--rate 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faultload import Verdict, drive, settle  # noqa: E402
from faultreport import clients, machine_line, outcomes, verdict_line, write  # noqa: E402
from faultstack import FaultStack, fault_stack  # noqa: E402
from report import log  # noqa: E402
from sink import Sink  # noqa: E402

SECTION = "postgres-restarted-drill"


async def restart_postgres(stack: FaultStack, after: float, down: float, outage: list[float]) -> None:
    await asyncio.sleep(after)
    log(f"stopping PostgreSQL for {down:g} s")
    began = time.monotonic()
    outage.append(await asyncio.to_thread(stack.restart_postgres, down))
    outage.append(time.monotonic() - began)
    log("PostgreSQL started again")


def server_errors(seen: Counter[str]) -> int:
    """Answers that are 5xx but not the clean 503 in the envelope (500s, or anything outside the envelope)."""
    return sum(n for k, n in seen.items() if k[:1] == "5" and k != "503 database_unavailable")


async def _drill(stack: FaultStack, sink: Sink, args: argparse.Namespace) -> tuple[Verdict, dict[str, object]]:
    outage: list[float] = []
    async with clients(stack) as (admin, shop):
        began = time.monotonic()
        fault = asyncio.create_task(restart_postgres(stack, args.after, args.down, outage))
        acked = await drive(shop, args.rate, args.seconds, until=fault)
        await fault
        load_s = time.monotonic() - began
        verdict = await settle(stack, sink, admin, acked, timeout=args.settle_timeout)
    return verdict, {
        "load_s": load_s,
        "down_s": outage[0] if outage else 0.0,
        "seen": shop.seen,
        "retries": shop.retries,
        "worker": stack.worker.alive(),
        "apis": all(api.alive() for api in stack.api),
    }


def report(verdict: Verdict, figures: dict[str, object], args: argparse.Namespace) -> list[str]:
    seen = figures["seen"]
    assert isinstance(seen, Counter)
    clean = seen["503 database_unavailable"]
    bad = server_errors(seen)
    command = "make drill-postgres-restarted" + (" ARGS=--quick" if args.quick else "")
    ok = verdict.ok and bad == 0
    return [
        "## PostgreSQL restarted under load: clean 503s, retries succeed, nothing half-written",
        "",
        machine_line(command, "postgres_restarted.py"),
        "",
        "- The drill's own stack (`bench/drills/faultstack.py`), SMTP to an aiosmtpd sink in the drill.",
        f"- Load: {args.rate:g} members/s signing up, each ordering 1-4 s later (every third twice), for "
        f"{figures['load_s']:.0f} s: **{verdict.members:,} sign-ups and {verdict.orders:,} orders acknowledged**.",
        f"- PostgreSQL stopped (fast shutdown) {args.after:g} s into the load and was accepting connections again "
        f"**{figures['down_s']:.0f} s** later. The worker and the API "
        + ("kept running." if figures["worker"] and figures["apis"] else "**did not all survive**.")
        + "",
        f"- Answers the shop saw: {outcomes(seen)}; retries {figures['retries']} (each with the write's own "
        "Idempotency-Key).",
        f"- **{clean:,} clean 503 `database_unavailable`** (error envelope, `Retry-After`) and **{bad} other 5xx** "
        "while the database was away.",
        f"- Everything settled {verdict.drain_s:.0f} s after the load.",
        "",
        *verdict.table(),
        "",
        verdict_line(ok, verdict.problems() or [f"{bad} server errors"], "nothing lost, nothing half-written, no 500"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=15.0, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--after", type=float, default=15.0, help="seconds into the load that PostgreSQL stops")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=3.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true", help="10 s down, 10 s into 30 s of load at 2/s")
    args = parser.parse_args()
    if args.quick:
        args.down, args.after, args.seconds, args.rate = 10.0, 10.0, 30.0, 2.0
    with fault_stack() as (stack, sink):
        verdict, figures = asyncio.run(_drill(stack, sink, args))
    lines = report(verdict, figures, args)
    write(SECTION, lines)
    print("\n".join(lines))
    seen = figures["seen"]
    assert isinstance(seen, Counter)
    sys.exit(0 if verdict.ok and server_errors(seen) == 0 else 1)


if __name__ == "__main__":
    main()
