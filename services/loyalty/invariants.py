"""The ledger's invariants, checked on demand (GET /api/v1/ops/ledger/check, tests, benchmarks): every
transaction sums to zero, every cached balance equals the sum of its entries, and lots match their moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models import LedgerAccount


@dataclass(frozen=True)
class LedgerCheck:
    ok: bool
    transactions: int
    entries: int
    posted_sum: int
    pending_sum: int
    unbalanced_transactions: int
    accounts_checked: int
    mismatched_accounts: list[dict[str, Any]]
    lot_mismatches: int
    outstanding_points: int
    held_points: int
    debt_points: int


_CHECK_TOTALS = text(
    """
    SELECT
        (SELECT count(*) FROM ledger_transactions) AS transactions,
        count(*) AS entries,
        coalesce(sum(amount) FILTER (WHERE NOT pending), 0) AS posted_sum,
        coalesce(sum(amount) FILTER (WHERE pending), 0) AS pending_sum
    FROM ledger_entries
    """
)
_CHECK_UNBALANCED = text(
    """
    SELECT count(*) FROM (
        SELECT transaction_id FROM ledger_entries GROUP BY transaction_id, pending HAVING sum(amount) <> 0
    ) unbalanced
    """
)
# Cached balances against their entries, and lots against available balances, for every member account.
_CHECK_ACCOUNTS = text(
    """
    WITH sums AS (
        SELECT account_id,
               coalesce(sum(amount) FILTER (WHERE NOT pending), 0) AS posted,
               -coalesce(sum(amount) FILTER (WHERE pending), 0) AS held
        FROM ledger_entries GROUP BY account_id
    ), lots AS (
        SELECT account_id, sum(remaining) AS remaining FROM ledger_lots GROUP BY account_id
    )
    SELECT a.id, a.code, a.posted, a.held, coalesce(s.posted, 0) AS entries_posted,
           coalesce(s.held, 0) AS entries_held, coalesce(l.remaining, 0) AS lots_remaining
    FROM ledger_accounts a
    LEFT JOIN sums s ON s.account_id = a.id
    LEFT JOIN lots l ON l.account_id = a.id
    WHERE a.kind = 'member'
      AND (a.posted <> coalesce(s.posted, 0) OR a.held <> coalesce(s.held, 0)
           OR a.posted - a.held <> coalesce(l.remaining, 0))
    LIMIT 50
    """
)
_CHECK_LOT_MOVES = text(
    """
    SELECT count(*) FROM ledger_lots l
    LEFT JOIN (SELECT lot_id, sum(amount) AS moved FROM ledger_lot_moves GROUP BY lot_id) m ON m.lot_id = l.id
    WHERE l.remaining <> l.amount + coalesce(m.moved, 0)
    """
)


async def check(session: AsyncSession) -> LedgerCheck:
    """Verify the ledger's invariants: entries sum to zero overall and per transaction, each member
    account's cached balance equals its entries, and its lots hold exactly its available points."""
    totals = (await session.execute(_CHECK_TOTALS)).one()
    unbalanced = int((await session.execute(_CHECK_UNBALANCED)).scalar_one())
    mismatched = [dict(row._mapping) for row in (await session.execute(_CHECK_ACCOUNTS)).all()]
    lot_mismatches = int((await session.execute(_CHECK_LOT_MOVES)).scalar_one())
    sums = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(LedgerAccount.posted - LedgerAccount.held), 0),
                func.coalesce(func.sum(LedgerAccount.held), 0),
                func.coalesce(func.sum(LedgerAccount.debt), 0),
            ).where(LedgerAccount.kind == "member")
        )
    ).one()
    ok = totals.posted_sum == 0 and totals.pending_sum == 0 and unbalanced == 0 and not mismatched
    return LedgerCheck(
        ok=ok and lot_mismatches == 0,
        transactions=int(totals.transactions),
        entries=int(totals.entries),
        posted_sum=int(totals.posted_sum),
        pending_sum=int(totals.pending_sum),
        unbalanced_transactions=unbalanced,
        accounts_checked=int(sums[0]),
        mismatched_accounts=mismatched,
        lot_mismatches=lot_mismatches,
        outstanding_points=int(sums[1]),
        held_points=int(sums[2]),
        debt_points=int(sums[3]),
    )
