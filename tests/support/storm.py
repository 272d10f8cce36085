"""The duplicate storm, shared by its test (two app instances in-process) and its drill (two API processes):
the same order and the same event, each `copies` times at once, spread over several API servers, with and
without one Idempotency-Key, and then what was stored: it must be credited once."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

ORDER_POINTS = 129  # an order of 129.90 at the base tier
REVIEW_POINTS = 20  # the built-in award_review_posted rule (settings.points.awards)


@dataclass
class Scenario:
    """One body posted `copies` times at once; `key`: the one Idempotency-Key all copies carry, or none."""

    name: str
    path: str
    body: dict[str, object]
    key: str | None
    answers: Counter[str] = field(default_factory=Counter)  # "201", "409 order_exists", ...
    bodies: set[str] = field(default_factory=set)  # distinct 2xx bodies (canonical JSON)
    # distinct (order or event id, ledger transaction id) in the 2xx answers: what the copies say was stored
    stored: set[tuple[str, str]] = field(default_factory=set)
    fresh: int = 0  # 2xx answers that are neither an Idempotent-Replayed nor a `duplicate: true` event


def scenarios(member_id: str) -> list[Scenario]:
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC).isoformat()

    def order(external_id: str) -> dict[str, object]:
        items = [{"sku": "TEA-001", "quantity": 2, "unit_price": "64.95"}]
        return {"external_id": external_id, "member_id": member_id, "amount": "129.90", "currency": "CNY",
                "status": "completed", "placed_at": now, "items": items}  # fmt: skip

    def review(event_id: str) -> dict[str, object]:
        return {"member_id": member_id, "type": "review_posted", "occurred_at": now, "event_id": event_id,
                "properties": {"review_id": event_id}}  # fmt: skip

    return [
        Scenario("order, no Idempotency-Key", "/api/v1/orders", order(f"storm-{run}-a"), None),
        Scenario("order, one Idempotency-Key", "/api/v1/orders", order(f"storm-{run}-b"), f"storm-{run}-order"),
        Scenario("event, no Idempotency-Key", "/api/v1/events", review(f"storm-{run}-a"), None),
        Scenario("event, one Idempotency-Key", "/api/v1/events", review(f"storm-{run}-b"), f"storm-{run}-event"),
    ]


async def storm(clients: list[httpx.AsyncClient], member_id: str, copies: int = 50) -> list[Scenario]:
    """Every copy of every scenario at once, round robin over `clients` (each an API server)."""
    plan = scenarios(member_id)
    servers = itertools.cycle(clients)

    async def post(scenario: Scenario, http: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": scenario.key} if scenario.key else {}
        response = await http.post(scenario.path, json=scenario.body, headers=headers)
        if response.status_code >= 300:
            scenario.answers[f"{response.status_code} {response.json()['error']['code']}"] += 1
            return
        scenario.answers[str(response.status_code)] += 1
        body = response.json()
        scenario.bodies.add(json.dumps(body, sort_keys=True))
        scenario.stored.add((str(body.get("id") or body.get("event_id")), str(body.get("ledger_transaction_id"))))
        replayed = response.headers.get("Idempotent-Replayed") == "true" or body.get("duplicate") is True
        scenario.fresh += 0 if replayed else 1

    await asyncio.gather(*(post(s, next(servers)) for s in plan for _ in range(copies)))
    return plan


def expected_answers(copies: int) -> dict[str, Counter[str]]:
    """Without a key the same order is refused as a duplicate and the same event is acknowledged as one; with
    one key every copy gets the first answer."""
    return {
        "order, no Idempotency-Key": Counter({"201": 1, "409 order_exists": copies - 1}),
        "order, one Idempotency-Key": Counter({"201": copies}),
        "event, no Idempotency-Key": Counter({"201": copies}),
        "event, one Idempotency-Key": Counter({"201": copies}),
    }


def count_queries(member_id: str) -> dict[str, str]:
    """What the storm stored for the member, as SQL (one number each), with the value it must be."""
    member = uuid.UUID(member_id)  # a UUID only: safe to put in the text
    return {
        "order rows": f"SELECT count(*) FROM orders WHERE member_id = '{member}'",
        "ledger transactions": f"SELECT count(*) FROM ledger_transactions WHERE member_id = '{member}'",
        "order_completed events": (
            f"SELECT count(*) FROM member_events WHERE member_id = '{member}' AND type = 'order_completed'"
        ),
        "review_posted events": (
            f"SELECT count(*) FROM member_events WHERE member_id = '{member}' AND type = 'review_posted'"
        ),
        "rule firings": f"SELECT count(*) FROM rule_firings WHERE member_id = '{member}'",
        "points balance": f"SELECT posted FROM ledger_accounts WHERE member_id = '{member}'",
    }


EXPECTED_COUNTS = {
    "order rows": 2,
    "ledger transactions": 2 + 2,  # the two orders' earnings and the two reviews' awards
    "order_completed events": 2,
    "review_posted events": 2,
    "rule firings": 2,
    "points balance": 2 * ORDER_POINTS + 2 * REVIEW_POINTS,
}
