"""The fault drills' load and their checks: members sign up and order through the API as a shop would (every
write with an Idempotency-Key, retried with the same key until it is acknowledged), and afterwards the counts
that say whether anything was lost or done twice: emails in the sink per member, each journey's step, each
member's points against their acknowledged orders, and the ledger check."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from faultstack import FaultStack
from report import log
from sink import Sink

WELCOME, THANKS = "Welcome to", "Thank you for your first order"  # the built-in templates' English subjects
ORDER_AMOUNT = Decimal("129.90")
ORDER_POINTS = 129  # 1 point per whole currency unit at the base tier; two orders stay below silver (1,000)
RETRYABLE = {500, 502, 503, 504}


def daytime_zone() -> str:
    """A fixed-offset zone where it is about 13:00 now, so quiet hours never defer the drill's sends."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def order_body(member_id: str, external_id: str) -> dict[str, object]:
    return {
        "external_id": external_id,
        "member_id": member_id,
        "amount": str(ORDER_AMOUNT),
        "currency": "CNY",
        "status": "completed",
        "placed_at": datetime.now(UTC).isoformat(),
        "items": [{"sku": "TEA-001", "name": "Oolong", "quantity": 2, "unit_price": "64.95"}],
    }


@dataclass
class Shop:
    """An integration client over one or more API servers (round robin), retrying each write with its key."""

    clients: list[httpx.AsyncClient]
    give_up_after: float = 300.0
    seen: Counter[str] = field(default_factory=Counter)  # "201", "503 database_unavailable", "connection", ...
    retries: int = 0
    _turn: itertools.cycle[int] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.clients)))

    async def write(self, path: str, body: dict[str, object], key: str) -> httpx.Response:
        """POST until a final answer (2xx or a 4xx other than 503-like); every attempt's outcome is counted."""
        deadline = time.monotonic() + self.give_up_after
        pause = 0.2
        while True:
            http = self.clients[next(self._turn)]
            try:
                response = await http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError as error:
                self.seen[f"connection error ({type(error).__name__})"] += 1
            else:
                self.seen[_outcome(response)] += 1
                if response.status_code not in RETRYABLE:
                    return response
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} with key {key} not acknowledged within {self.give_up_after:g} s")
            self.retries += 1
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 2.0)


def _outcome(response: httpx.Response) -> str:
    if response.status_code < 400:
        return str(response.status_code)
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "not in the error envelope"
    return f"{response.status_code} {code}"


@dataclass
class Acknowledged:
    """What the API acknowledged: sign-ups (address -> member id) and orders (member id -> order bodies)."""

    members: dict[str, str] = field(default_factory=dict)
    orders: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def order_count(self) -> int:
        return sum(len(v) for v in self.orders.values())


async def member_life(shop: Shop, acked: Acknowledged, run: str, i: int) -> None:
    """Sign up, order 1-4 s later; every third member orders a second time 1-3 s after that."""
    address = f"f{run}-{i}@example.com"
    body = {"external_id": address, "email": address, "timezone": daytime_zone(), "consent": {"email": True}}
    response = await shop.write("/api/v1/members", body, f"signup-{run}-{i}")
    if response.status_code != 201:
        acked.refused[f"sign-up {_outcome(response)}"] += 1
        return
    member_id = str(response.json()["id"])
    acked.members[address] = member_id
    acked.orders[member_id] = []
    for n in range(2 if i % 3 == 0 else 1):
        await asyncio.sleep(random.uniform(1.0, 4.0) if n == 0 else random.uniform(1.0, 3.0))
        ordered = await shop.write("/api/v1/orders", order_body(member_id, f"{run}-{i}-{n}"), f"order-{run}-{i}-{n}")
        if ordered.status_code != 201:
            acked.refused[f"order {_outcome(ordered)}"] += 1
            continue
        acked.orders[member_id].append(ordered.json())


async def drive(shop: Shop, rate: float, seconds: float, until: asyncio.Future[None] | None = None) -> Acknowledged:
    """Open loop: member i starts at i/rate s, whatever the API's latency, for `seconds` and for as long as
    `until` (the drill's faults) is not done; returns once every member's writes are acknowledged."""
    acked, run = Acknowledged(), uuid.uuid4().hex[:6]
    began, tasks = time.monotonic(), []
    for i in itertools.count():
        if i >= rate * seconds and (until is None or until.done()):
            break
        await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(member_life(shop, acked, run, i)))
    await asyncio.gather(*tasks)
    log(f"load done: {len(acked.members)} sign-ups, {acked.order_count} orders acknowledged; {dict(shop.seen)}")
    return acked


@dataclass
class Verdict:
    """The counts every drill reports; `ok` when nothing was lost or doubled."""

    members: int
    orders: int
    welcome: Counter[str]
    thanks: Counter[str]
    welcome_expected: set[str]
    thanks_expected: set[str]
    journeys_wrong: list[str]
    points_wrong: list[str]
    orders_wrong: list[str]
    ledger: dict[str, object]
    drain_s: float

    def missing(self, counts: Counter[str], expected: set[str]) -> int:
        return sum(1 for a in expected if counts[a] == 0)

    def duplicates(self, counts: Counter[str]) -> int:
        return sum(n - 1 for n in counts.values() if n > 1)

    @property
    def ok(self) -> bool:
        emails = (self.welcome, self.welcome_expected), (self.thanks, self.thanks_expected)
        return (
            all(self.missing(c, e) == 0 and self.duplicates(c) == 0 for c, e in emails)
            and not self.journeys_wrong
            and not self.points_wrong
            and not self.orders_wrong
            and bool(self.ledger.get("ok"))
        )

    def table(self) -> list[str]:
        rows = [
            "| check | expected | found | missing | duplicates |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, counts, expected in (
            ("welcome email, once per member", self.welcome, self.welcome_expected),
            ("purchase_thanks email, once per first order", self.thanks, self.thanks_expected),
        ):
            rows.append(
                f"| {name} | {len(expected):,} | {sum(counts.values()):,} | {self.missing(counts, expected)} | "
                f"{self.duplicates(counts)} |"
            )
        rows += [
            f"| acknowledged orders stored exactly once | {self.orders:,} | {self.orders - len(self.orders_wrong):,}"
            f" | {len(self.orders_wrong)} | - |",
            "| journeys at the right step (welcome exited, first_purchase waiting at tips_delay) | "
            f"{2 * self.members:,} | {2 * self.members - len(self.journeys_wrong):,} | {len(self.journeys_wrong)} "
            "| - |",
            f"| members with exact points ({ORDER_POINTS} per acknowledged order, none held) | {self.members:,} | "
            f"{self.members - len(self.points_wrong):,} | {len(self.points_wrong)} | - |",
            f"| ledger check (`/api/v1/ops/ledger/check`) | ok | {'ok' if self.ledger.get('ok') else 'FAILED'} "
            "| - | - |",
        ]
        return rows

    def problems(self) -> list[str]:
        emails = []
        for name, counts, expected in (
            ("welcome", self.welcome, self.welcome_expected),
            ("purchase_thanks", self.thanks, self.thanks_expected),
        ):
            missing, doubled = self.missing(counts, expected), self.duplicates(counts)
            emails += [f"{missing} {name} email(s) missing"] if missing else []
            emails += [f"{doubled} {name} duplicate(s)"] if doubled else []
        ledger = [] if self.ledger.get("ok") else ["ledger check failed"]
        return (emails + ledger + self.journeys_wrong + self.points_wrong + self.orders_wrong)[:10]


def _journeys_wrong(stack: FaultStack, acked: Acknowledged) -> list[str]:
    rows = stack.psql("SELECT member_id, kind, status, current_step FROM journey_runs")
    runs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for member_id, kind, status, step in rows:
        runs.setdefault((member_id, kind), []).append((status, step))
    wrong = []
    for member_id, orders in acked.orders.items():
        welcome = runs.get((member_id, "welcome"), [])
        follow = runs.get((member_id, "first_purchase"), [])
        want_welcome = [("exited", s) for _, s in welcome] if orders else [("running", "story_delay")]
        if len(welcome) != 1 or welcome != want_welcome:
            wrong.append(f"{member_id} welcome {welcome}")
        want_follow = [("running", "tips_delay")] if orders else []
        if follow != want_follow:
            wrong.append(f"{member_id} first_purchase {follow}")
    return wrong


def _points_wrong(stack: FaultStack, acked: Acknowledged) -> list[str]:
    balances = {m: (int(p), int(h)) for m, p, h in stack.psql("SELECT member_id, posted, held FROM ledger_accounts")}
    wrong = []
    for member_id, orders in acked.orders.items():
        claimed = sum(int(str(o["points_earned"])) for o in orders)
        expected = ORDER_POINTS * len(orders)  # a sign-up through the API earns nothing by itself
        if balances.get(member_id) != (expected, 0) or claimed != ORDER_POINTS * len(orders):
            wrong.append(f"{member_id} points {balances.get(member_id)} expected {expected} (orders said {claimed})")
    return wrong


def _orders_wrong(stack: FaultStack, acked: Acknowledged) -> list[str]:
    """Every acknowledged order stored once, earning once; no order stored that was never acknowledged."""
    stored = Counter(r[0] for r in stack.psql("SELECT id FROM orders"))
    earns = Counter(r[0] for r in stack.psql("SELECT reference_id FROM ledger_transactions WHERE kind = 'earn'"))
    wrong = []
    acked_ids = {str(o["id"]) for orders in acked.orders.values() for o in orders}
    for order_id in acked_ids:
        if stored[order_id] != 1 or earns[order_id] != 1:
            wrong.append(f"order {order_id}: stored {stored[order_id]}, earned {earns[order_id]}")
    wrong += [f"order {o} stored but never acknowledged" for o in stored if o not in acked_ids]
    return wrong


async def _ledger(http: httpx.AsyncClient) -> dict[str, object]:
    response = await http.get("/api/v1/ops/ledger/check")
    return dict(response.json()) if response.status_code == 200 else {"ok": False, "status": response.status_code}


def _mail(sink: Sink, acked: Acknowledged) -> tuple[Counter[str], Counter[str]]:
    mine = [r for r in sink.snapshot() if r.to in acked.members]
    return (
        Counter(r.to for r in mine if r.subject.startswith(WELCOME)),
        Counter(r.to for r in mine if r.subject.startswith(THANKS)),
    )


async def settle(
    stack: FaultStack, sink: Sink, http: httpx.AsyncClient, acked: Acknowledged, *, timeout: float, quiet: float = 10
) -> Verdict:
    """Wait until every expected email arrived and the outbox is empty (then `quiet` s more, to catch a late
    duplicate), or `timeout`; then count."""
    began = time.monotonic()
    thanks_expected = {a for a, m in acked.members.items() if acked.orders.get(m)}
    while time.monotonic() - began < timeout:
        welcome, thanks = _mail(sink, acked)
        outbox = stack.scalar("SELECT count(*) FROM temporal_outbox WHERE dispatched_at IS NULL")
        arrived = all(welcome[a] for a in acked.members) and all(thanks[a] for a in thanks_expected)
        if arrived and outbox == 0 and not _journeys_wrong(stack, acked):
            break
        await asyncio.sleep(1.0)
    drained = time.monotonic() - began
    await asyncio.sleep(quiet)
    welcome, thanks = _mail(sink, acked)
    return Verdict(
        members=len(acked.members),
        orders=acked.order_count,
        welcome=welcome,
        thanks=thanks,
        welcome_expected=set(acked.members),
        thanks_expected=thanks_expected,
        journeys_wrong=_journeys_wrong(stack, acked),
        points_wrong=_points_wrong(stack, acked),
        orders_wrong=_orders_wrong(stack, acked),
        ledger=await _ledger(http),
        drain_s=drained,
    )
