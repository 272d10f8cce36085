"""Past orders in bulk, with the ledger kept exact: the same rows that `services.intake.orders.ingest` writes
for each order (the order, spend and count, points at the tier multiplier of the moment, the earn
transaction with its entries and lot, the events, a tier upgrade), computed in Python for the whole chunk
and written with COPY and array statements: about ten round trips per chunk instead of several per order.
Upgrades follow lifetime spend, recorded in the tier history like the intake's; under a windowed basis the
import upgrades no one and the next review places the member.

Points whose expiry has already passed are expired here too (an `expire` transaction per lot, as
`mf_ledger_expire_lots` would write it), so the ledger check holds the moment the import ends. History
starts no journey and evaluates no rule: nothing in it is news to anyone."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import Tier
from services.imports.bulk import UNKNOWN_MEMBER, Written, driver, first_seen
from services.imports.rows import BadRow, OrderRow
from services.intake.orders import lot_expiry, points_for
from services.loyalty import ledger, tier_policy, tiers

_LOCK_MEMBERS = """
SELECT m.id, m.external_id, m.tier, m.lifetime_spend, m.order_count, m.last_purchase_at,
       a.id AS account_id, a.posted, a.held, a.debt
FROM members m JOIN ledger_accounts a ON a.member_id = m.id
WHERE m.external_id = ANY($1::text[]) ORDER BY m.id FOR UPDATE OF m, a
"""
_EXISTING = """
SELECT o.source, o.external_id FROM orders o
JOIN unnest($1::text[], $2::text[]) AS k(source, external_id) USING (source, external_id)
"""
_IDS = """
SELECT array(SELECT nextval(pg_get_serial_sequence('ledger_transactions', 'id')) FROM generate_series(1, $1)),
       array(SELECT nextval(pg_get_serial_sequence('ledger_lots', 'id')) FROM generate_series(1, $2))
"""
_UPDATE_MEMBERS = """
UPDATE members m SET lifetime_spend = v.spend, order_count = v.orders, last_purchase_at = v.last, tier = v.tier,
                     tier_since = coalesce(v.since, m.tier_since), updated_at = now()
FROM unnest($1::uuid[], $2::numeric[], $3::int[], $4::timestamptz[], $5::text[], $6::timestamptz[])
     AS v(id, spend, orders, last, tier, since)
WHERE m.id = v.id
"""
_UPDATE_ACCOUNTS = """
UPDATE ledger_accounts a SET posted = v.posted, debt = v.debt
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(id, posted, debt) WHERE a.id = v.id
"""
_TX_COLUMNS = [
    "id", "idempotency_key", "request_hash", "kind", "reason", "reference_type", "reference_id", "member_id", "details",
]  # fmt: skip
_ENTRY_COLUMNS = ["transaction_id", "account_id", "amount", "balance_after", "available_after"]
_LOT_COLUMNS = ["id", "account_id", "transaction_id", "amount", "remaining", "expires_at"]
_ORDER_COLUMNS = [
    "id", "source", "external_id", "member_id", "amount", "currency", "status", "items", "points_earned", "placed_at",
]  # fmt: skip
_EVENT_COLUMNS = ["id", "member_id", "type", "occurred_at", "properties", "idempotency_key"]
_TIER_CHANGE_COLUMNS = [
    "id", "member_id", "old_tier", "new_tier", "direction", "reason", "reference_type", "reference_id",
    "idempotency_key", "occurred_at",
]  # fmt: skip


@dataclass
class _Account:
    """One member's running state through the chunk: spend and tier on the member, balance on the account."""

    member_id: uuid.UUID
    account_id: int
    tier: str
    spend: Decimal
    orders: int
    last: datetime | None
    posted: int
    held: int
    debt: int
    tier_since: datetime | None = None  # set when the chunk upgrades the member
    due_lots: list[tuple[int, int, datetime]] = field(default_factory=list)  # (lot id, points, expires_at)


@dataclass
class _Batch:
    """The rows to write, with ids drawn from the sequences up front (so one COPY per table)."""

    tx_ids: list[int]
    lot_ids: list[int]
    system: dict[str, int]
    now: datetime
    transactions: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    lots: list[tuple[Any, ...]] = field(default_factory=list)
    moves: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    tier_changes: list[tuple[Any, ...]] = field(default_factory=list)
    upgrades: bool = True  # False under a windowed basis: the review places members
    lots_expired: int = 0

    def entry(self, tx: int, account: _Account, points: int) -> None:
        self.entries.append((tx, account.account_id, points, account.posted, account.posted - account.held))


def _earn(batch: _Batch, account: _Account, order_id: uuid.UUID, row: OrderRow, tier: Tier, points: int) -> None:
    """As `mf_ledger_credit`: the points in, debt repaid first, the rest a lot expiring a term after the order."""
    tx = batch.tx_ids.pop()
    repay = min(points, account.debt)
    net = points - repay
    multiplier = "" if tier.earn_multiplier == 1 else f" at {tier.name} ×{tier.earn_multiplier}"
    reference = ("order", str(order_id))
    batch.transactions.append(
        (
            tx,
            f"order:{order_id}:earn",
            ledger.credit_hash(account.member_id, points, ledger.TxKind.EARN, reference, ledger.SystemAccount.ISSUED),
            "earn",
            f"Order {row.order_id} completed: {row.amount} {row.currency}{multiplier}",
            *reference,
            account.member_id,
            json.dumps({"amount": points, "debt_repaid": repay}),
        )
    )
    issued = batch.system[ledger.SystemAccount.ISSUED]
    posted_before = account.posted
    account.posted = posted_before + points
    batch.entry(tx, account, points)
    batch.entries.append((tx, issued, -points, None, None))
    account.posted = posted_before + net
    if repay:
        batch.entry(tx, account, -repay)
        batch.entries.append((tx, issued, repay, None, None))
        account.debt -= repay
    if net > 0:
        lot = batch.lot_ids.pop()
        expires = lot_expiry(row.placed_at)
        due = expires <= batch.now
        batch.lots.append((lot, account.account_id, tx, net, 0 if due else net, expires))
        if due:
            account.due_lots.append((lot, net, expires))


def _expire(batch: _Batch, account: _Account) -> None:
    """As `mf_ledger_expire_lots` (first round of each lot): the lots of this chunk already past their date."""
    expired = batch.system[ledger.SystemAccount.EXPIRED]
    for lot, points, expires in sorted(account.due_lots, key=lambda due: (due[2], due[0])):
        tx = batch.tx_ids.pop()
        batch.transactions.append(
            (
                tx,
                f"expire:lot:{lot}:0",
                hashlib.md5(f"{lot}:0".encode(), usedforsecurity=False).hexdigest(),  # as the SQL function tags it
                "expire",
                f"{points} points earned expired on {expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                "lot",
                str(lot),
                account.member_id,
                json.dumps({"amount": points}),
            )
        )
        account.posted -= points
        batch.entry(tx, account, -points)
        batch.entries.append((tx, expired, points, None, None))
        batch.moves.append((lot, tx, -points))
        batch.lots_expired += 1
    account.due_lots.clear()


def _event(batch: _Batch, member_id: uuid.UUID, kind: str, at: datetime, key: str, properties: dict[str, Any]) -> None:
    batch.events.append((uuid7(), member_id, kind, at, json.dumps(properties), key))


def _order(batch: _Batch, ladder: list[Tier], account: _Account, row: OrderRow) -> None:
    """One order, as `ingest` books it: the tier before the order sets the multiplier; an upgrade follows."""
    current = tiers.find(ladder, account.tier) or tiers.tier_for(ladder, account.spend)
    order_id = uuid7()
    points = points_for(row.amount, current.earn_multiplier)
    first_purchase = account.orders == 0
    account.spend += row.amount
    account.orders += 1
    account.last = row.placed_at if account.last is None else max(account.last, row.placed_at)
    items = json.dumps([item.model_dump(mode="json") for item in row.items])
    batch.orders.append(
        (order_id, row.source, row.order_id, account.member_id, row.amount, row.currency, row.status, items, points,
         row.placed_at)
    )  # fmt: skip
    if points > 0:
        _earn(batch, account, order_id, row, current, points)
    properties = {
        "order_id": str(order_id),
        "amount": str(row.amount),
        "currency": row.currency,
        "first_purchase": first_purchase,
        "points": points,
    }
    _event(batch, account.member_id, "order_completed", row.placed_at, f"order:{order_id}:completed", properties)
    reached = tiers.tier_for(ladder, account.spend)
    if batch.upgrades and reached.rank > current.rank:
        account.tier, account.tier_since = reached.code, row.placed_at
        reason = f"order {row.order_id}: lifetime spend {account.spend:,.2f} above {reached.name}'s"
        batch.tier_changes.append(
            (uuid7(), account.member_id, current.code, reached.code, "up",
             f"{reason} {reached.min_spend_exclusive:,.2f}", "order", str(order_id), f"order:{order_id}:tier",
             row.placed_at)
        )  # fmt: skip
        change = {"from": current.code, "to": reached.code, "direction": "up", "order_id": str(order_id)}
        _event(batch, account.member_id, "tier_changed", row.placed_at, f"order:{order_id}:tier", change)


async def _accounts(connection: asyncpg.Connection, external_ids: list[str]) -> dict[str, _Account]:
    rows = await connection.fetch(_LOCK_MEMBERS, sorted(set(external_ids)))
    return {
        r["external_id"]: _Account(
            r["id"],
            r["account_id"],
            r["tier"],
            r["lifetime_spend"],
            r["order_count"],
            r["last_purchase_at"],
            r["posted"],
            r["held"],
            r["debt"],
        )  # fmt: skip
        for r in rows
    }


async def _write(connection: asyncpg.Connection, batch: _Batch, accounts: list[_Account]) -> None:
    await connection.copy_records_to_table("orders", records=batch.orders, columns=_ORDER_COLUMNS)
    if batch.transactions:
        await connection.copy_records_to_table("ledger_transactions", records=batch.transactions, columns=_TX_COLUMNS)
        await connection.copy_records_to_table("ledger_entries", records=batch.entries, columns=_ENTRY_COLUMNS)
    if batch.lots:
        await connection.copy_records_to_table("ledger_lots", records=batch.lots, columns=_LOT_COLUMNS)
    if batch.moves:
        await connection.copy_records_to_table(
            "ledger_lot_moves", records=batch.moves, columns=["lot_id", "transaction_id", "amount"]
        )
    await connection.copy_records_to_table("member_events", records=batch.events, columns=_EVENT_COLUMNS)
    if batch.tier_changes:
        await connection.copy_records_to_table("tier_changes", records=batch.tier_changes, columns=_TIER_CHANGE_COLUMNS)
    await connection.execute(
        _UPDATE_MEMBERS,
        [a.member_id for a in accounts],
        [a.spend for a in accounts],
        [a.orders for a in accounts],
        [a.last for a in accounts],
        [a.tier for a in accounts],
        [a.tier_since for a in accounts],
    )
    await connection.execute(
        _UPDATE_ACCOUNTS, [a.account_id for a in accounts], [a.posted for a in accounts], [a.debt for a in accounts]
    )


async def write(session: AsyncSession, rows: list[tuple[int, OrderRow]]) -> tuple[Written, int]:
    """Write the chunk's new orders; returns the outcome and how many lots it expired."""
    written = Written()
    kept = first_seen([(line, (row.source, row.order_id), row) for line, row in rows], "order_id", written)
    connection = await driver(session)
    accounts = await _accounts(connection, [row.member_external_id for _, row in kept])
    known: list[tuple[int, OrderRow]] = []
    for line, row in kept:
        if row.member_external_id in accounts:
            known.append((line, row))
        else:
            written.errors.append(BadRow(line, "member_external_id", UNKNOWN_MEMBER))
    existing = {
        (r["source"], r["external_id"])
        for r in await connection.fetch(_EXISTING, [r.source for _, r in known], [r.order_id for _, r in known])
    }
    new = [(line, row) for line, row in known if (row.source, row.order_id) not in existing]
    written.skipped = len(known) - len(new)
    written.imported = len(new)
    if not new:
        return written, 0
    ids = await connection.fetchrow(_IDS, 2 * len(new), len(new))
    system = {
        r["code"]: r["id"]
        for r in await connection.fetch(
            "SELECT code, id FROM ledger_accounts WHERE code = ANY($1::text[])",
            [ledger.SystemAccount.ISSUED.value, ledger.SystemAccount.EXPIRED.value],
        )
    }
    batch = _Batch(tx_ids=list(reversed(ids[0])), lot_ids=list(reversed(ids[1])), system=system, now=datetime.now(UTC))
    ladder = await tiers.ladder(session)
    batch.upgrades = (await tier_policy.get(session)).basis == tier_policy.Basis.LIFETIME_SPEND
    by_member: dict[str, list[tuple[int, OrderRow]]] = defaultdict(list)
    for line, row in new:
        by_member[row.member_external_id].append((line, row))
    touched = []
    for external_id, orders in by_member.items():
        account = accounts[external_id]
        for _, row in sorted(orders, key=lambda item: (item[1].placed_at, item[0])):
            _order(batch, ladder, account, row)
        _expire(batch, account)
        touched.append(account)
    await _write(connection, batch, touched)
    return written, batch.lots_expired
