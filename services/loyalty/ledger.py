"""The points ledger: double-entry, append-only, idempotent by key, and never below zero.

Every posting is one call to a stored function (models/migrations/sql/ledger_v1.sql): one round trip that
inserts the transaction (or finds it by idempotency key), moves the member's cached balance under a
conditional update, consumes or creates expiry lots and writes entries summing to zero. A coded error from
the function (SQLSTATE MFxxx) becomes a domain error here; it has written nothing.

Longer than 400 lines on purpose: every posting kind sits beside the one stored-function call path it shares."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import TextClause, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.errors import AppError, Conflict, NotFound
from models import LedgerAccount, LedgerEntry, LedgerHold, LedgerTransaction


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


class InsufficientPoints(Conflict):
    code = "insufficient_points"


@dataclass(frozen=True)
class Balance:
    posted: int
    held: int
    debt: int = 0

    @property
    def available(self) -> int:
        return self.posted - self.held


@dataclass(frozen=True)
class PostingResult:
    transaction_id: int
    replayed: bool
    balance: Balance
    # Points actually moved (a clawback may move less than asked) and the part recorded as debt.
    amount: int
    shortfall: int = 0


@dataclass(frozen=True)
class LedgerLine:
    entry_id: int
    transaction_id: int
    kind: str
    amount: int
    pending: bool
    balance_after: int | None
    available_after: int | None
    reason: str
    reference_type: str | None
    reference_id: str | None
    created_at: datetime


Reference = tuple[str, str]
# Postings run on a session (inside the caller's transaction) or on a connection. On an AUTOCOMMIT
# connection a posting that stands alone is a single statement: atomic by itself, one round trip, no
# BEGIN/COMMIT (see core.db.autocommit).
Executor = AsyncSession | AsyncConnection


def member_account_code(member_id: uuid.UUID) -> str:
    return f"member:{member_id}"


async def open_member_account(session: AsyncSession, member_id: uuid.UUID) -> None:
    """One INSERT on every sign-up: no ORM object, nothing read back."""
    await session.execute(
        insert(LedgerAccount).values(
            code=member_account_code(member_id), kind="member", member_id=member_id, posted=0, held=0, debt=0
        )
    )


def _content_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


def credit_hash(
    member_id: uuid.UUID, points: int, kind: TxKind, reference: Reference | None, source: SystemAccount
) -> str:
    """The content hash `credit` stores with its idempotency key: bulk writers that post credits themselves
    (services.imports) store the same, so a later `credit` with that key is a replay, not a conflict."""
    ref_type, ref_id = reference or (None, None)
    return _content_hash("credit", str(member_id), points, kind.value, ref_type, ref_id, source.value)


def _coded_error(sqlstate: str | None, message: str, raw_detail: str | None) -> AppError | None:
    try:
        parsed = json.loads(raw_detail) if raw_detail else {}
    except ValueError:
        parsed = {}
    details: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    if sqlstate == "MF001":
        return InsufficientPoints(message, details=details)
    if sqlstate == "MF002":
        return Conflict(message, code="idempotency_conflict", details=details)
    if sqlstate == "MF003":
        return NotFound(message, code="hold_not_found" if "hold" in message else "member_not_found")
    if sqlstate == "MF004":
        return Conflict(message, code=f"hold_{details.get('status', 'resolved')}", details=details)
    return None


@lru_cache(maxsize=32)
def _call(function: str, names: tuple[str, ...]) -> TextClause:
    arguments = ", ".join(f":{name}" for name in names)
    return text(f"SELECT transaction_id, replayed, posted, held, debt, amount, shortfall FROM {function}({arguments})")


@lru_cache(maxsize=32)
def _positional_call(function: str, count: int) -> str:
    arguments = ", ".join(f"${index}" for index in range(1, count + 1))
    return f"SELECT transaction_id, replayed, posted, held, debt, amount, shortfall FROM {function}({arguments})"


def _is_autocommit(executor: Executor) -> bool:
    if not isinstance(executor, AsyncConnection) or executor.sync_connection is None:
        return False
    return executor.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


async def _driver(executor: Executor) -> asyncpg.Connection | None:
    """The asyncpg connection to send the posting on directly: an AUTOCOMMIT connection (nothing to join), or
    the connection of a session or connection whose transaction has begun on the server (the call joins it, as
    any statement of the session would). None otherwise: a session whose first statement this would be goes
    through SQLAlchemy, which begins the transaction."""
    if isinstance(executor, AsyncSession):
        if not executor.in_transaction():
            return None
        await executor.flush()  # as SQLAlchemy's own execute would autoflush first
        connection = await executor.connection()
    else:
        connection = executor
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection | None = raw.driver_connection
    if driver is None or not (_is_autocommit(connection) or driver.is_in_transaction()):
        return None
    return driver


async def _fetch(executor: Executor, function: str, params: dict[str, Any]) -> Any:
    """Run the posting function, straight on the driver as one prepared statement where `_driver` allows: a
    quarter of the client CPU of the SQLAlchemy path, which dominates on small machines (docs/benchmarks.md);
    on every order this is the ledger credit."""
    driver = await _driver(executor)
    if driver is not None:
        try:
            return await driver.fetchrow(_positional_call(function, len(params)), *params.values())
        except asyncpg.PostgresError as exc:
            translated = _coded_error(exc.sqlstate, str(getattr(exc, "message", exc)), getattr(exc, "detail", None))
            if translated is None:
                raise
            raise translated from exc
    try:
        return (await executor.execute(_call(function, tuple(params)), params)).mappings().one()
    except DBAPIError as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from exc


def _translated(exc: DBAPIError) -> AppError | None:
    """The domain error a coded failure of a posting function stands for (None for any other failure)."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return _coded_error(
        getattr(exc.orig, "sqlstate", None),
        str(getattr(cause, "message", None) or exc.orig),
        getattr(cause, "detail", None),
    )


async def _post(session: Executor, function: str, params: dict[str, Any]) -> PostingResult:
    return _result(await _fetch(session, function, params))


def _result(row: Any) -> PostingResult:
    return PostingResult(
        transaction_id=row["transaction_id"],
        replayed=row["replayed"],
        balance=Balance(posted=row["posted"] or 0, held=row["held"] or 0, debt=row["debt"] or 0),
        amount=row["amount"] or 0,
        shortfall=row["shortfall"] or 0,
    )


def _require_positive(points: int) -> None:
    if points <= 0:
        raise ValueError("points must be positive")


async def credit(
    session: Executor,
    *,
    member_id: uuid.UUID,
    points: int,
    kind: TxKind,
    reason: str,
    idempotency_key: str,
    expires_at: datetime,
    reference: Reference | None = None,
    source: SystemAccount = SystemAccount.ISSUED,
    details: dict[str, Any] | None = None,
) -> PostingResult:
    """Move points from a system account to the member (earn, positive adjustment). Debt is repaid first;
    the rest becomes a lot expiring at `expires_at`. Same key and content: the first result."""
    _require_positive(points)
    ref_type, ref_id = reference or (None, None)
    return await _post(
        session,
        "mf_ledger_credit",
        {
            "key": idempotency_key,
            "hash": credit_hash(member_id, points, kind, reference, source),
            "kind": kind.value,
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "member": member_id,
            "points": points,
            "source": source.value,
            "expires_at": expires_at,
            "details": json.dumps(details or {}),
        },
    )


@dataclass(frozen=True)
class CreditRequest:
    """One credit of `credit_many`: the same arguments as `credit`."""

    member_id: uuid.UUID
    points: int
    kind: TxKind
    reason: str
    idempotency_key: str
    expires_at: datetime
    reference: Reference | None = None
    source: SystemAccount = SystemAccount.ISSUED


# The posting function once per request, in the order given: each call sees what the earlier ones wrote (the
# balance row, the lots), exactly as separate statements in the same transaction would.
_CREDIT_MANY = text(
    """
    SELECT p.transaction_id, p.replayed, p.posted, p.held, p.debt, p.amount, p.shortfall
    FROM unnest(CAST(:keys AS text[]), CAST(:hashes AS text[]), CAST(:kinds AS text[]), CAST(:reasons AS text[]),
                CAST(:ref_types AS text[]), CAST(:ref_ids AS text[]), CAST(:members AS uuid[]),
                CAST(:points AS bigint[]), CAST(:sources AS text[]), CAST(:expires AS timestamptz[]))
         WITH ORDINALITY AS a(key, hash, kind, reason, ref_type, ref_id, member, points, source, expires_at, ord)
    CROSS JOIN LATERAL mf_ledger_credit(a.key, a.hash, a.kind, a.reason, a.ref_type, a.ref_id, a.member,
                                        a.points, a.source, a.expires_at, '{}'::jsonb) AS p
    ORDER BY a.ord
    """
)


async def credit_many(session: AsyncSession, credits: list[CreditRequest]) -> list[PostingResult]:
    """Several credits in one round trip (a rule engine granting points for several rules of one event), each
    posted exactly as `credit` posts it, under its own idempotency key; results in the order given. A coded
    error of any of them fails the statement, and with it all of them."""
    for request in credits:
        _require_positive(request.points)
    columns: dict[str, list[Any]] = {
        name: []
        for name in ("keys", "hashes", "kinds", "reasons", "ref_types", "ref_ids", "members", "points", "sources")
    }
    columns["expires"] = []
    for r in credits:
        ref_type, ref_id = r.reference or (None, None)
        source = r.source.value
        row = {
            "keys": r.idempotency_key,
            "hashes": _content_hash("credit", str(r.member_id), r.points, r.kind.value, ref_type, ref_id, source),
            "kinds": r.kind.value,
            "reasons": r.reason,
            "ref_types": ref_type,
            "ref_ids": ref_id,
            "members": r.member_id,
            "points": r.points,
            "sources": source,
            "expires": r.expires_at,
        }
        for name, value in row.items():
            columns[name].append(value)
    try:
        rows = (await session.execute(_CREDIT_MANY, columns)).mappings().all()
    except DBAPIError as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from exc
    return [_result(row) for row in rows]


async def debit(
    session: Executor,
    *,
    member_id: uuid.UUID,
    points: int,
    kind: TxKind,
    reason: str,
    idempotency_key: str,
    reference: Reference | None = None,
    destination: SystemAccount = SystemAccount.REDEEMED,
    details: dict[str, Any] | None = None,
) -> PostingResult:
    """Move points from the member to a system account (spend, negative adjustment): all or nothing;
    409 `insufficient_points` when less is available."""
    _require_positive(points)
    ref_type, ref_id = reference or (None, None)
    return await _post(
        session,
        "mf_ledger_debit",
        {
            "key": idempotency_key,
            "hash": _content_hash("debit", str(member_id), points, kind.value, ref_type, ref_id, destination.value),
            "kind": kind.value,
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "member": member_id,
            "points": points,
            "dest": destination.value,
            "details": json.dumps(details or {}),
        },
    )


async def clawback(
    session: Executor,
    *,
    member_id: uuid.UUID,
    points: int,
    reason: str,
    idempotency_key: str,
    reference: Reference,
    prefer_lot_of_transaction: int | None = None,
) -> PostingResult:
    """Take back points for a refund. What the member no longer has becomes debt (`shortfall`), repaid by
    their next earnings: the balance never goes negative and nothing is silently forgiven."""
    _require_positive(points)
    return await _post(
        session,
        "mf_ledger_clawback",
        {
            "key": idempotency_key,
            "hash": _content_hash("clawback", str(member_id), points, reference[0], reference[1]),
            "reason": reason,
            "ref_type": reference[0],
            "ref_id": reference[1],
            "member": member_id,
            "points": points,
            "prefer_tx": prefer_lot_of_transaction,
            "details": "{}",
        },
    )


async def hold(
    session: Executor,
    *,
    member_id: uuid.UUID,
    points: int,
    reason: str,
    idempotency_key: str,
    hold_id: uuid.UUID,
    expires_at: datetime | None = None,
    reference: Reference | None = None,
) -> PostingResult:
    """Reserve points: available drops now; `post_hold` spends them, `void_hold` releases them."""
    _require_positive(points)
    ref_type, ref_id = reference or (None, None)
    return await _post(
        session,
        "mf_ledger_hold",
        {
            "key": idempotency_key,
            "hash": _content_hash("hold", str(member_id), points, str(hold_id), ref_type, ref_id),
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "member": member_id,
            "points": points,
            "hold": hold_id,
            "expires_at": expires_at,
            "details": "{}",
        },
    )


async def _resolve(
    session: Executor, hold_id: uuid.UUID, action: str, *, reason: str, idempotency_key: str | None
) -> PostingResult:
    return await _post(
        session,
        "mf_ledger_resolve_hold",
        {
            "key": idempotency_key or f"hold:{hold_id}:{action}",
            "hash": _content_hash("resolve", str(hold_id), action),
            "hold": hold_id,
            "action": action,
            "reason": reason,
            "details": "{}",
        },
    )


async def post_hold(
    session: Executor, hold_id: uuid.UUID, *, reason: str, idempotency_key: str | None = None
) -> PostingResult:
    """Spend a held amount. Posting twice returns the first posting; posting a released hold is 409."""
    return await _resolve(session, hold_id, "post", reason=reason, idempotency_key=idempotency_key)


async def void_hold(
    session: Executor,
    hold_id: uuid.UUID,
    *,
    reason: str,
    idempotency_key: str | None = None,
    expired: bool = False,
) -> PostingResult:
    """Release a held amount back to available (and to the lots it came from)."""
    action = "expire" if expired else "void"
    return await _resolve(session, hold_id, action, reason=reason, idempotency_key=idempotency_key)


async def expire_due_lots(session: Executor, *, now: datetime, limit: int = 500) -> int:
    """Expire up to `limit` lots due at `now`, one `expire` transaction each; returns how many."""
    result = await session.execute(text("SELECT mf_ledger_expire_lots(:now, :limit)"), {"now": now, "limit": limit})
    return int(result.scalar_one())


async def due_holds(session: AsyncSession, *, now: datetime, limit: int = 500) -> list[uuid.UUID]:
    rows = await session.execute(
        select(LedgerHold.id)
        .where(LedgerHold.status == "pending", LedgerHold.expires_at <= now)
        .order_by(LedgerHold.expires_at)
        .limit(limit)
    )
    return list(rows.scalars().all())


async def get_hold(session: AsyncSession, hold_id: uuid.UUID) -> LedgerHold:
    found = await session.get(LedgerHold, hold_id)
    if found is None:
        raise NotFound(f"hold {hold_id} does not exist", code="hold_not_found")
    return found


async def balance(session: AsyncSession, member_id: uuid.UUID) -> Balance:
    row = (
        await session.execute(
            select(LedgerAccount.posted, LedgerAccount.held, LedgerAccount.debt).where(
                LedgerAccount.member_id == member_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"member {member_id} has no points account", code="member_not_found")
    return Balance(posted=row.posted, held=row.held, debt=row.debt)


async def statement(
    session: AsyncSession, member_id: uuid.UUID, *, limit: int = 10, after: int | None = None
) -> list[LedgerLine]:
    """The member's entries, newest first; `after` is the last entry id of the previous page."""
    stmt = (
        select(LedgerEntry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.member_id == member_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(LedgerEntry.id < after)
    return [
        LedgerLine(
            entry_id=entry.id,
            transaction_id=tx.id,
            kind=tx.kind,
            amount=entry.amount,
            pending=entry.pending,
            balance_after=entry.balance_after,
            available_after=entry.available_after,
            reason=tx.reason,
            reference_type=tx.reference_type,
            reference_id=tx.reference_id,
            created_at=entry.created_at,
        )
        for entry, tx in (await session.execute(stmt)).all()
    ]


async def expiring(session: AsyncSession, member_id: uuid.UUID, *, limit: int = 5) -> list[tuple[datetime, int]]:
    """The next expiry dates of the member's points and how many points expire then."""
    rows = await session.execute(
        text(
            "SELECT l.expires_at, sum(l.remaining) AS points FROM ledger_lots l "
            "JOIN ledger_accounts a ON a.id = l.account_id "
            "WHERE a.member_id = :member AND l.remaining > 0 "
            "GROUP BY l.expires_at ORDER BY l.expires_at LIMIT :limit"
        ),
        {"member": member_id, "limit": limit},
    )
    return [(row.expires_at, int(row.points)) for row in rows]
