"""The points ledger: double-entry postings, idempotent by key, with member balances that never go negative.

This is the first slice (earning); holds, spends, expiry and clawback build on the same posting shape."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from models import LedgerAccount, LedgerEntry, LedgerTransaction


class TxKind(StrEnum):
    EARN = "earn"
    SPEND = "spend"
    REFUND = "refund"
    EXPIRE = "expire"
    ADJUST = "adjust"
    HOLD = "hold"
    POST = "post"
    VOID = "void"


class SystemAccount(StrEnum):
    ISSUED = "system:issued"
    REDEEMED = "system:redeemed"
    EXPIRED = "system:expired"
    ADJUSTMENTS = "system:adjustments"


@dataclass(frozen=True)
class Balance:
    posted: int
    held: int

    @property
    def available(self) -> int:
        return self.posted - self.held


@dataclass(frozen=True)
class PostingResult:
    transaction_id: int
    replayed: bool


@dataclass(frozen=True)
class LedgerLine:
    entry_id: int
    transaction_id: int
    kind: str
    amount: int
    balance_after: int | None
    reason: str
    reference_type: str | None
    reference_id: str | None
    created_at: datetime


def member_account_code(member_id: uuid.UUID) -> str:
    return f"member:{member_id}"


async def open_member_account(session: AsyncSession, member_id: uuid.UUID) -> None:
    session.add(LedgerAccount(code=member_account_code(member_id), kind="member", member_id=member_id))
    await session.flush()


def _content_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


# One round trip: insert the transaction (or nothing if the key exists), credit the member's cached balance,
# and write both entries. The system account's balance is not cached, so no shared row is locked.
_CREDIT_MEMBER = text(
    """
    WITH tx AS (
        INSERT INTO ledger_transactions
            (idempotency_key, request_hash, kind, reason, reference_type, reference_id, member_id)
        VALUES (:key, :hash, :kind, :reason, :ref_type, :ref_id, :member_id)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    ), acct AS (
        UPDATE ledger_accounts SET posted = posted + :points
        WHERE member_id = :member_id AND EXISTS (SELECT 1 FROM tx)
        RETURNING id, posted
    ), member_entry AS (
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after)
        SELECT tx.id, acct.id, :points, acct.posted FROM tx, acct
    ), system_entry AS (
        INSERT INTO ledger_entries (transaction_id, account_id, amount)
        SELECT tx.id, (SELECT id FROM ledger_accounts WHERE code = :system_code), -:points FROM tx, acct
    )
    SELECT tx.id AS transaction_id, acct.id AS account_id FROM tx LEFT JOIN acct ON true
    """
)


async def credit(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    points: int,
    kind: TxKind,
    reason: str,
    idempotency_key: str,
    reference: tuple[str, str] | None = None,
    source: SystemAccount = SystemAccount.ISSUED,
) -> PostingResult:
    """Move `points` from a system account to the member. The same key with the same content is a replay;
    with other content it is a conflict (409) and nothing is written."""
    if points <= 0:
        raise ValueError("points to credit must be positive")
    ref_type, ref_id = reference if reference else (None, None)
    content = _content_hash(str(member_id), points, kind.value, ref_type, ref_id, source.value)
    row = (
        await session.execute(
            _CREDIT_MEMBER,
            {
                "key": idempotency_key,
                "hash": content,
                "kind": kind.value,
                "reason": reason,
                "ref_type": ref_type,
                "ref_id": ref_id,
                "member_id": member_id,
                "points": points,
                "system_code": source.value,
            },
        )
    ).one_or_none()
    if row is not None:
        if row.account_id is None:
            # Rolled back by the caller's transaction; the statement itself wrote only the header.
            raise NotFound(f"member {member_id} has no points account", code="member_not_found")
        return PostingResult(transaction_id=row.transaction_id, replayed=False)
    existing = (
        await session.execute(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key))
    ).scalar_one()
    if existing.request_hash != content:
        raise Conflict(
            "this idempotency key was already used for a different ledger transaction",
            code="idempotency_conflict",
            details={"idempotency_key": idempotency_key, "transaction_id": existing.id},
        )
    return PostingResult(transaction_id=existing.id, replayed=True)


async def balance(session: AsyncSession, member_id: uuid.UUID) -> Balance:
    row = (
        await session.execute(
            select(LedgerAccount.posted, LedgerAccount.held).where(LedgerAccount.member_id == member_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"member {member_id} has no points account", code="member_not_found")
    return Balance(posted=row.posted, held=row.held)


async def recent_lines(session: AsyncSession, member_id: uuid.UUID, limit: int = 10) -> list[LedgerLine]:
    stmt = (
        select(LedgerEntry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.member_id == member_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return [
        LedgerLine(
            entry_id=entry.id,
            transaction_id=tx.id,
            kind=tx.kind,
            amount=entry.amount,
            balance_after=entry.balance_after,
            reason=tx.reason,
            reference_type=tx.reference_type,
            reference_id=tx.reference_id,
            created_at=entry.created_at,
        )
        for entry, tx in (await session.execute(stmt)).all()
    ]
