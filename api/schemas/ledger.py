"""Points responses: balances, statements, adjustments and the ledger check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.pagination import Page
from api.schemas.members import LedgerLineOut, PointsOut
from services.loyalty.invariants import LedgerCheck
from services.loyalty.ledger import PostingResult


class ExpiringOut(BaseModel):
    expires_at: datetime
    points: int


class PointsBalanceOut(PointsOut):
    expiring: list[ExpiringOut]


class LedgerPage(Page[LedgerLineOut]):
    """A member's ledger lines, newest first."""


class PostingOut(BaseModel):
    transaction_id: int
    replayed: bool
    amount: int
    shortfall: int
    balance: PointsOut

    @classmethod
    def of(cls, posting: PostingResult) -> PostingOut:
        return cls(
            transaction_id=posting.transaction_id,
            replayed=posting.replayed,
            amount=posting.amount,
            shortfall=posting.shortfall,
            balance=PointsOut.of(posting.balance),
        )


class LedgerCheckOut(BaseModel):
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

    @classmethod
    def of(cls, result: LedgerCheck) -> LedgerCheckOut:
        return cls(**result.__dict__)
