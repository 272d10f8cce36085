"""Double-entry points ledger: accounts, transactions and their entries (append-only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Identity, Index, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column


class LedgerAccount(Base):
    """One account per member plus system accounts (issued, redeemed, expired, adjustments).

    Only member accounts keep a cached balance (`posted`, `held`); a system account's balance is the
    sum of its entries, so no posting ever queues on a shared hot row."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('member', 'system')", name="kind_known"),
        CheckConstraint("held >= 0 AND posted - held >= 0", name="available_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"), unique=True)
    posted: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points clawed back by refunds that the member had already spent; future earnings repay it first.
    debt: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    # Hash of the transaction's content: the same key with other content is a conflict, not a replay.
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    reference_type: Mapped[str | None] = mapped_column(String(50))
    reference_id: Mapped[str | None] = mapped_column(String(255))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Facts a reader needs beyond the entries: debt repaid or recorded, the hold resolved, ...
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Pending entries are the two sides of a hold (and of its release); they move `held`, not `posted`.
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The account's posted and available balances after this entry (member accounts only).
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    available_after: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()


class LedgerLot(Base):
    """Points earned together, expiring together. Spends and holds consume the oldest first, so at all
    times the member's lots hold exactly their available balance."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        Index("ix_ledger_lots_open", "account_id", "expires_at", "id", postgresql_where=text("remaining > 0")),
        Index("ix_ledger_lots_due", "expires_at", postgresql_where=text("remaining > 0")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class LedgerLotMove(Base):
    """Each consumption (negative) or restoration (positive) of a lot, by transaction: the audit trail
    behind `remaining`, and what a released hold gives back."""

    __tablename__ = "ledger_lot_moves"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class LedgerHold(Base):
    """A two-phase reservation: pending until posted (spent), voided (released) or expired."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name="status_known"),
        Index("ix_ledger_holds_due", "expires_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    resolution_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = created_at_column()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
