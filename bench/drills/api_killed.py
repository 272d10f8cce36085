"""API killed mid-request: many order posts, each with its own Idempotency-Key, in flight at once on one API
process, which is SIGKILLed once part of them are answered. Then every one is retried with the same key, on the
other API process and again on the restarted one: each must give the first result exactly once (the same body
where the first answer arrived, one order row, points credited once). Writes its section of docs/reliability.md.

    .venv/bin/python bench/drills/api_killed.py [--members 40] [--orders 5] [--kill-after 0.3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faultload import ORDER_POINTS, daytime_zone, order_body  # noqa: E402
from faultreport import clients, machine_line, write  # noqa: E402
from faultstack import FaultStack, fault_stack  # noqa: E402
from report import log  # noqa: E402

SECTION = "api-killed-drill"


@dataclass
class Post:
    key: str
    body: dict[str, object]
    first: httpx.Response | None = None  # the answer before the kill, if one came
    retries: list[httpx.Response] = field(default_factory=list)


async def _burst(http: httpx.AsyncClient, posts: list[Post], stack: FaultStack, kill_after: float) -> int:
    """Send every post at once to API 0; SIGKILL it once `kill_after` of them are answered. Returns how many
    were still in flight at the kill."""
    answered = asyncio.Event()
    done = 0

    async def send(post: Post) -> None:
        nonlocal done
        try:
            post.first = await http.post("/api/v1/orders", json=post.body, headers={"Idempotency-Key": post.key})
        except httpx.TransportError:
            return
        done += 1
        if done >= kill_after * len(posts):
            answered.set()

    tasks = [asyncio.create_task(send(p)) for p in posts]
    await answered.wait()
    in_flight = sum(1 for t in tasks if not t.done())
    stack.api[0].kill()
    log(f"API 0 SIGKILLed with {in_flight} of {len(posts)} order posts in flight")
    await asyncio.gather(*tasks)
    return in_flight


async def _retry_all(http: httpx.AsyncClient, posts: list[Post]) -> None:
    async def one(post: Post) -> None:
        post.retries.append(await http.post("/api/v1/orders", json=post.body, headers={"Idempotency-Key": post.key}))

    await asyncio.gather(*(one(p) for p in posts))


@dataclass
class Figures:
    posts: int
    in_flight: int
    answered: Counter[str]
    committed_unanswered: int  # no answer before the kill, but the retry replayed a stored result
    lost_unanswered: int  # no answer, nothing stored: the retry did the work for the first time
    mismatched: list[str]
    orders_wrong: list[str]
    points_wrong: list[str]
    ledger_ok: bool

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.orders_wrong or self.points_wrong) and self.ledger_ok


def _judge(posts: list[Post], stack: FaultStack, members: dict[str, int], in_flight: int, ledger_ok: bool) -> Figures:
    mismatched, committed, fresh = [], 0, 0
    for post in posts:
        bodies = [r.json() for r in post.retries]
        if any(r.status_code != 201 for r in post.retries) or any(b != bodies[0] for b in bodies):
            mismatched.append(f"{post.key}: retries {[r.status_code for r in post.retries]} differ")
            continue
        if post.first is not None:
            if post.first.status_code != 201 or post.first.json() != bodies[0]:
                mismatched.append(f"{post.key}: first {post.first.status_code} differs from the retry")
        elif post.retries[0].headers.get("Idempotent-Replayed") == "true":
            committed += 1
        else:
            fresh += 1
    ids = {str(p.retries[0].json()["id"]) for p in posts if p.retries and p.retries[0].status_code == 201}
    stored = Counter(r[0] for r in stack.psql("SELECT id FROM orders"))
    earns = Counter(r[0] for r in stack.psql("SELECT reference_id FROM ledger_transactions WHERE kind = 'earn'"))
    orders_wrong = [f"{o}: stored {stored[o]}, earned {earns[o]}" for o in ids if stored[o] != 1 or earns[o] != 1]
    orders_wrong += [f"{o} stored but not the result of any post" for o in stored if o not in ids]
    balances = {m: int(p) for m, p in stack.psql("SELECT member_id, posted FROM ledger_accounts") if m}
    points_wrong = [
        f"{m}: {balances.get(m)} != {n * ORDER_POINTS}"
        for m, n in members.items()
        if balances.get(m) != n * ORDER_POINTS
    ]
    answered = Counter(str(p.first.status_code) if p.first else "no answer (killed)" for p in posts)
    return Figures(len(posts), in_flight, answered, committed, fresh, mismatched, orders_wrong, points_wrong, ledger_ok)


async def _drill(stack: FaultStack, args: argparse.Namespace) -> Figures:
    async with clients(stack) as (admin, shop):
        headers = dict(shop.clients[0].headers)
        member_ids: dict[str, int] = {}
        run = uuid.uuid4().hex[:6]
        for i in range(args.members):
            address = f"k{run}-{i}@example.com"
            body = {"external_id": address, "email": address, "timezone": daytime_zone(), "consent": {"email": True}}
            response = await shop.clients[0].post("/api/v1/members", json=body)
            response.raise_for_status()
            member_ids[str(response.json()["id"])] = args.orders
        posts = [
            Post(f"kill-{run}-{m}-{n}", order_body(m, f"kill-{run}-{m}-{n}"))
            for n in range(args.orders)
            for m in member_ids
        ]
        limits = httpx.Limits(max_connections=len(posts))
        async with httpx.AsyncClient(base_url=stack.url(0), headers=headers, limits=limits, timeout=120) as burst:
            in_flight = await _burst(burst, posts, stack, args.kill_after)
        await _retry_all(shop.clients[1], posts)  # on the other API process, while API 0 is down
        await asyncio.to_thread(stack.restart_api, 0)
        await _retry_all(shop.clients[0], posts)  # and on the restarted one
        ledger = (await admin.get("/api/v1/ops/ledger/check")).json()
        return _judge(posts, stack, member_ids, in_flight, bool(ledger.get("ok")))


def report(f: Figures, args: argparse.Namespace) -> list[str]:
    command = "make drill-api-killed" + (" ARGS=--quick" if args.quick else "")
    answered = ", ".join(f"{k} x {v:,}" for k, v in f.answered.most_common())
    problems = (f.mismatched + f.orders_wrong + f.points_wrong)[:10]
    return [
        "## API killed mid-request: each retry with the same Idempotency-Key gives the first result once",
        "",
        machine_line(command, "api_killed.py"),
        "",
        "- The drill's own stack (`bench/drills/faultstack.py`) with two API processes on ports of their own.",
        f"- {f.posts:,} order posts ({args.members} members x {args.orders} orders, each with its own "
        f"Idempotency-Key) sent at once to API process 0, SIGKILLed once {args.kill_after:.0%} were answered: "
        f"**{f.in_flight:,} in flight at the kill**. First answers: {answered}.",
        "- Every post retried with the same key on API process 1, then again on the restarted process 0.",
        f"- Of the posts that got no answer: **{f.committed_unanswered:,} had committed before the kill** (the retry "
        f"replayed the stored result, `Idempotent-Replayed: true`) and **{f.lost_unanswered:,} had not** (the retry "
        "did the work, once).",
        "",
        "| check | expected | wrong |",
        "| --- | ---: | ---: |",
        f"| both retries 201 with the same body, equal to the first answer where one came | {f.posts:,} | "
        f"{len(f.mismatched)} |",
        f"| one order row and one earn transaction per post, no other order | {f.posts:,} | {len(f.orders_wrong)} |",
        f"| members with exactly {args.orders} x {ORDER_POINTS} points | {args.members:,} | {len(f.points_wrong)} |",
        f"| ledger check | ok | {'0' if f.ledger_ok else 'FAILED'} |",
        "",
        f"**Verdict: {'each result exactly once' if f.ok else 'FAILED: ' + '; '.join(problems)}.**",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--orders", type=int, default=5, help="orders per member, all posted at once")
    parser.add_argument("--kill-after", type=float, default=0.3, help="share of answers before the kill")
    parser.add_argument("--quick", action="store_true", help="20 members x 5 orders")
    args = parser.parse_args()
    if args.quick:
        args.members = 20
    with fault_stack(apis=2) as (stack, _):
        figures = asyncio.run(_drill(stack, args))
    lines = report(figures, args)
    write(SECTION, lines)
    print("\n".join(lines))
    sys.exit(0 if figures.ok else 1)


if __name__ == "__main__":
    main()
