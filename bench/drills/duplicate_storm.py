"""Duplicate storm: the same order and the same event, each 50 times at once, spread over two API processes,
with and without one Idempotency-Key (tests/support/storm.py, which the test tests/intake/test_duplicate_storm.py
runs in-process). Each must be credited once: one order row, one earning, one event row, one rule firing, the
points once, and the ledger check ok. Writes its section of docs/reliability.md.

    .venv/bin/python bench/drills/duplicate_storm.py [--copies 50] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from faultload import daytime_zone  # noqa: E402
from faultreport import clients, machine_line, verdict_line, write  # noqa: E402
from faultstack import FaultStack, fault_stack  # noqa: E402
from report import log  # noqa: E402

from tests.support.storm import EXPECTED_COUNTS, Scenario, count_queries, expected_answers, storm  # noqa: E402

SECTION = "duplicate-storm-drill"


async def _round(stack: FaultStack, shop_clients: list, copies: int) -> tuple[list[Scenario], dict[str, int]]:  # type: ignore[type-arg]
    address = f"storm-{uuid.uuid4().hex[:10]}@example.com"
    body = {"external_id": address, "email": address, "timezone": daytime_zone()}
    response = await shop_clients[0].post("/api/v1/members", json=body)
    response.raise_for_status()
    member_id = str(response.json()["id"])
    plan = await storm(shop_clients, member_id, copies)
    counts = {name: stack.scalar(sql) for name, sql in count_queries(member_id).items()}
    return plan, counts


def _problems(plan: list[Scenario], counts: dict[str, int], copies: int) -> list[str]:
    wanted = expected_answers(copies)
    problems = [f"{s.name}: answers {dict(s.answers)}" for s in plan if s.answers != wanted[s.name]]
    problems += [f"{s.name}: {len(s.stored)} stored results named" for s in plan if len(s.stored) != 1]
    problems += [f"{s.name}: {s.fresh} copies did the work" for s in plan if s.fresh != 1]
    problems += [f"{s.name}: {len(s.bodies)} distinct bodies" for s in plan if s.key and len(s.bodies) != 1]
    problems += [f"{k}: {counts[k]} != {v}" for k, v in EXPECTED_COUNTS.items() if counts[k] != v]
    return problems


async def _drill(stack: FaultStack, args: argparse.Namespace) -> tuple[list[list[Scenario]], Counter[str], list[str]]:
    async with clients(stack) as (admin, shop):
        rounds, totals, problems = [], Counter[str](), []
        for n in range(args.rounds):
            plan, counts = await _round(stack, shop.clients, args.copies)
            rounds.append(plan)
            totals.update(counts)
            problems += [f"round {n + 1}: {p}" for p in _problems(plan, counts, args.copies)]
            log(f"round {n + 1}: {[dict(s.answers) for s in plan]}; {counts}")
        ledger = (await admin.get("/api/v1/ops/ledger/check")).json()
        if not ledger.get("ok"):
            problems.append(f"ledger check: {ledger}")
        return rounds, totals, problems


def report(
    rounds: list[list[Scenario]], totals: Counter[str], problems: list[str], args: argparse.Namespace
) -> list[str]:
    command = "make drill-duplicate-storm" + (" ARGS=--quick" if args.quick else "")
    n = len(rounds)
    lines = [
        "## Duplicate storm: the same order and event 50 times at once over two API processes, credited once",
        "",
        machine_line(command, "duplicate_storm.py"),
        "",
        f"- The drill's own stack (`bench/drills/faultstack.py`) with two API processes; {n} rounds, each on a new "
        f"member: four bodies, each posted **{args.copies} times at once**, alternating between the two processes "
        "(`tests/support/storm.py`, also run in-process by `tests/intake/test_duplicate_storm.py`).",
        "",
        "| body | answers over all rounds | copies that did the work, per round | results named, per round |",
        "| --- | --- | ---: | ---: |",
    ]
    for i, first in enumerate(rounds[0]):
        answers = Counter[str]()
        for plan in rounds:
            answers.update(plan[i].answers)
        fresh = sorted({plan[i].fresh for plan in rounds})
        stored = sorted({len(plan[i].stored) for plan in rounds})
        shown = ", ".join(f"`{k}` x {v:,}" for k, v in answers.most_common())
        lines.append(f"| {first.name} | {shown} | {', '.join(map(str, fresh))} | {', '.join(map(str, stored))} |")
    lines += [
        "",
        "| stored per member | expected | found (all rounds) |",
        "| --- | ---: | ---: |",
        *(
            f"| {k} | {v:,} | {totals[k] / n:,.0f} x {n} rounds |"
            if totals[k] == v * n
            else f"| {k} | {v:,} | **{totals[k]:,} over {n} rounds** |"
            for k, v in EXPECTED_COUNTS.items()
        ),  # fmt: skip
        "",
        verdict_line(not problems, problems, "every order and event credited exactly once"),
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    with fault_stack(apis=2) as (stack, _):
        rounds, totals, problems = asyncio.run(_drill(stack, args))
    lines = report(rounds, totals, problems, args)
    write(SECTION, lines)
    print("\n".join(lines))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
