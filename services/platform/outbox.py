"""Transactional outbox for Temporal: record a workflow start (a typed `contracts.WorkflowStart`) or signal with
the change that needs it, then deliver it after commit (at once from the API, and by the worker's relay for
anything left over). A row keeps the start as JSON (type name, id, queue, input, search attributes by name),
so rows written before the typed starts are delivered the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from itertools import groupby
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict, NotFound
from models import TemporalOutbox
from services.platform import audit
from services.platform.audit import Actor
from workflows.contracts import SEARCH_ATTRIBUTES, WorkflowSignal, WorkflowStart

log = logging.getLogger(__name__)

# Rows younger than this are left to the request that wrote them (its fast path), so the relay and the
# API do not both try the same row at the same moment.
RELAY_GRACE = timedelta(seconds=5)
# A row that failed waits 1 s, 2 s, 4 s ... (at most 5 minutes) before its next try, and is parked after this many
# failures of its own in a row (about 20 minutes of trying), until ops retry it.
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_CAP = timedelta(minutes=5)
PARK_AFTER_ATTEMPTS = 12
PENDING_KEY = "memberflow.outbox_ids"
_KEYS = {key.name: key for key in SEARCH_ATTRIBUTES}


def _start_values(start: WorkflowStart, *, after_previous: bool = False) -> dict[str, Any]:
    action = "start_once" if start.once else "start_next" if after_previous else "start"
    return {
        "action": action,
        "workflow_type": start.workflow,
        "workflow_id": start.id,
        "task_queue": start.task_queue,
        "signal_name": None,
        "payload": start.payload(),
        "search_attributes": start.search_attribute_values(),
        "attempts": 0,
    }


def _signal_values(signal: WorkflowSignal) -> dict[str, Any]:
    return {
        "action": "signal",
        "workflow_type": None,
        "workflow_id": signal.workflow_id,
        "task_queue": None,
        "signal_name": signal.name,
        "payload": signal.payload_json(),
        "search_attributes": {},
        "attempts": 0,
    }


async def enqueue_start(session: AsyncSession, start: WorkflowStart, *, after_previous: bool = False) -> TemporalOutbox:
    """A start whose id never runs again (`start.once`, REJECT_DUPLICATE: a journey without re-entry) is
    delivered once and an existing run counts as done. `after_previous`: the caller knows any run still open
    under this id is finishing (a campaign marked completed whose workflow has not closed yet), so an open run
    means "try again shortly", not "done"."""
    return await _add(session, TemporalOutbox(**_start_values(start, after_previous=after_previous)))


async def enqueue_signal(session: AsyncSession, signal: WorkflowSignal) -> TemporalOutbox:
    return await _add(session, TemporalOutbox(**_signal_values(signal)))


async def enqueue_all(session: AsyncSession, commands: Iterable[WorkflowStart | WorkflowSignal]) -> list[int]:
    """Several starts and signals in one INSERT (the hot paths write one or two per request): the same rows as
    `enqueue_start` and `enqueue_signal`, in the order given, without an ORM object and a flush each."""
    rows = [_signal_values(c) if isinstance(c, WorkflowSignal) else _start_values(c) for c in commands]
    if not rows:
        return []
    ids = list((await session.execute(insert(TemporalOutbox).values(rows).returning(TemporalOutbox.id))).scalars())
    session.info.setdefault(PENDING_KEY, []).extend(ids)
    return ids


async def _add(session: AsyncSession, row: TemporalOutbox) -> TemporalOutbox:
    session.add(row)
    await session.flush()
    # Remembered on the session so the request that commits it can deliver it at once.
    session.info.setdefault(PENDING_KEY, []).append(row.id)
    return row


@dataclass(frozen=True)
class Backlog:
    """Temporal commands committed but not yet delivered: how far Temporal (or its relay) is behind."""

    starts: int
    signals: int
    oldest_age_seconds: float
    parked: int = 0  # gave up on after repeated failures of their own: waiting for ops, not counted above

    @property
    def total(self) -> int:
        return self.starts + self.signals


async def backlog(session: AsyncSession) -> Backlog:
    """One scan of the pending rows (a partial index keeps it to those alone)."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE action <> 'signal' AND parked_at IS NULL) AS starts, "
                "count(*) FILTER (WHERE action = 'signal' AND parked_at IS NULL) AS signals, "
                "count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked, "
                "coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0) AS oldest "
                "FROM temporal_outbox WHERE dispatched_at IS NULL"
            )
        )
    ).one()
    return Backlog(starts=row.starts, signals=row.signals, oldest_age_seconds=float(row.oldest), parked=row.parked)


def take_pending_ids(session: AsyncSession) -> list[int]:
    """The outbox rows this session wrote, to deliver right after it commits."""
    ids: list[int] = session.info.pop(PENDING_KEY, [])
    return ids


def _typed(attrs: dict[str, str]) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(_KEYS.get(name) or SearchAttributeKey.for_keyword(name), value)
            for name, value in attrs.items()
        ]
    )


async def _deliver(client: Client, row: TemporalOutbox) -> None:
    if row.action in ("start", "start_once", "start_next"):
        assert row.workflow_type is not None
        assert row.task_queue is not None
        reuse = (
            WorkflowIDReusePolicy.REJECT_DUPLICATE
            if row.action == "start_once"
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE
        )
        try:
            await client.start_workflow(
                row.workflow_type,
                row.payload,
                id=row.workflow_id,
                task_queue=row.task_queue,
                search_attributes=_typed(row.search_attributes),
                id_reuse_policy=reuse,
            )
        except WorkflowAlreadyStartedError:
            if row.action == "start_next":
                # Left pending: the relay tries again until the previous run has closed.
                raise RetryLater(f"the previous run of {row.workflow_id} is still open") from None
            # A run with this business id exists: the start already happened (or a duplicate trigger).
    elif row.action == "signal":
        assert row.signal_name
        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(row.workflow_id)
        try:
            await handle.signal(row.signal_name, row.payload)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # No running workflow to tell: the event has nothing to wake, which is not an error.
    else:
        raise ValueError(f"unknown outbox action {row.action!r}")


class RetryLater(Exception):
    """Delivery must wait for something expected (a previous run to close): back off, never park."""


class _Failure(StrEnum):
    OUTAGE = "outage"  # Temporal unreachable or overloaded: not the row's fault, and the next rows would fail too
    LATER = "later"
    ROW = "row"  # this row's own problem (bad input, a rejected command): counts towards parking


_OUTAGE_STATUSES = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)

# A lazily connected client that cannot reach the server raises a plain RuntimeError from the SDK's core with
# this message (temporalio 1.x), not an RPCError.
_CONNECT_FAILED = "Failed client connect"


def _classify(exc: Exception) -> _Failure:
    if isinstance(exc, RetryLater):
        return _Failure.LATER
    if isinstance(exc, RPCError) and exc.status in _OUTAGE_STATUSES:
        return _Failure.OUTAGE
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return _Failure.OUTAGE
    if isinstance(exc, RuntimeError) and str(exc).startswith(_CONNECT_FAILED):
        return _Failure.OUTAGE
    return _Failure.ROW


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failure in a row: 1 s, 2 s, 4 s ... capped at BACKOFF_CAP."""
    doublings: int = min(max(attempts - 1, 0), 20)
    return min(BACKOFF_CAP, BACKOFF_BASE * (1 << doublings))


_Earlier = aliased(TemporalOutbox)


def _not_before_its_start(batch: BindParameter[Any] | None) -> ColumnElement[bool]:
    """A signal waits while an older start of the same workflow is undelivered (backing off after an outage, or
    in another dispatcher's hands): delivered first, it would find no run, count as "nothing to wake" and be
    lost (the Temporal-restarted drill lost 7 purchases this way, leaving welcomes waiting for an order that had
    come). Starts in the caller's own batch are left to `_starts_not_taken`."""
    earlier = select(_Earlier.id).where(
        _Earlier.workflow_id == TemporalOutbox.workflow_id,
        _Earlier.action != "signal",
        _Earlier.id < TemporalOutbox.id,
        _Earlier.dispatched_at.is_(None),
        _Earlier.parked_at.is_(None),
    )
    if batch is not None:
        earlier = earlier.where(_Earlier.id.not_in(batch))
    return or_(TemporalOutbox.action != "signal", ~earlier.exists())


# Built once: constructing these per call was a third of the API's delivery CPU (py-spy, bench/ingest.py).
_PENDING = select(TemporalOutbox).where(TemporalOutbox.dispatched_at.is_(None), TemporalOutbox.parked_at.is_(None))
_BY_IDS = (
    _PENDING.where(
        TemporalOutbox.id.in_(bindparam("ids", expanding=True)),
        _not_before_its_start(bindparam("ids", expanding=True)),
    )
    .order_by(TemporalOutbox.id)
    .with_for_update(skip_locked=True)
)
# Never tried rows by age, a retried row from its next attempt: a retry goes to the back of the line.
_DUE = (
    _PENDING.where(
        TemporalOutbox.created_at < func.now() - RELAY_GRACE,
        or_(TemporalOutbox.next_attempt_at.is_(None), TemporalOutbox.next_attempt_at <= func.now()),
        _not_before_its_start(None),
    )
    .order_by(func.coalesce(TemporalOutbox.next_attempt_at, TemporalOutbox.created_at), TemporalOutbox.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_DELIVERED = text(
    "UPDATE temporal_outbox SET dispatched_at = now(), attempts = attempts + 1, last_error = NULL "
    "WHERE id = ANY(CAST(:ids AS bigint[]))"
)
_FAILED = text(
    "UPDATE temporal_outbox SET attempts = :attempts, last_error = :error, "
    "next_attempt_at = now() + CAST(:wait AS interval), parked_at = CASE WHEN :park THEN now() END WHERE id = :id"
)


# Temporal calls one dispatch (the relay's pass of up to 100 rows) has in flight at once.
DISPATCH_CONCURRENCY = 8


@dataclass(frozen=True)
class _Outcome:
    row: TemporalOutbox
    error: Exception | None = None


async def _deliver_in_order(
    client: Client, rows: list[TemporalOutbox], slots: asyncio.Semaphore, outage: asyncio.Event
) -> list[_Outcome]:
    """One workflow's rows, oldest first (a start before the signal that follows it). After a failure the
    workflow's later rows wait for the next pass (a signal must not reach "no such run" because its start
    failed), and once Temporal is found unreachable no further row is tried."""
    outcomes: list[_Outcome] = []
    async with slots:
        for row in rows:
            if outage.is_set():
                break
            try:
                await _deliver(client, row)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
                outcomes.append(_Outcome(row, exc))
                if _classify(exc) is _Failure.OUTAGE:
                    outage.set()
                break
            outcomes.append(_Outcome(row))
    return outcomes


async def _record_failure(session: AsyncSession, row: TemporalOutbox, exc: Exception) -> None:
    failure = _classify(exc)
    attempts = row.attempts + 1
    park = failure is _Failure.ROW and attempts >= PARK_AFTER_ATTEMPTS
    log.warning(
        "outbox %s (%s %s) failed, attempt %d%s: %s",
        row.id,
        row.action,
        row.workflow_id,
        attempts,
        ", parked" if park else "",
        exc,
    )
    params = {
        "id": row.id,
        "attempts": attempts,
        "error": f"{type(exc).__name__}: {exc}"[:2000],
        "wait": backoff(attempts),
        "park": park,
    }
    await session.execute(_FAILED, params)


async def _starts_not_taken(
    session: AsyncSession, rows: Sequence[TemporalOutbox], batch: Sequence[int] | None
) -> set[str]:
    """Workflows whose undelivered start is in the caller's batch but was not taken in this pass (another
    dispatcher holds it): their signals in this pass wait. Filled further as starts fail in the pass."""
    if batch is None or not any(row.action == "signal" for row in rows):
        return set()
    missing = set(batch) - {row.id for row in rows}
    if not missing:  # the whole batch was taken (the request's own delivery, as a rule): no query
        return set()
    stmt = select(TemporalOutbox.workflow_id).where(
        TemporalOutbox.id.in_(missing),
        TemporalOutbox.action != "signal",
        TemporalOutbox.dispatched_at.is_(None),
    )
    return set((await session.execute(stmt)).scalars().all())


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    *,
    ids: Sequence[int] | None = None,
    limit: int = 100,
    concurrency: int = DISPATCH_CONCURRENCY,
) -> int:
    """Deliver pending rows (the given ids, or the oldest due ones); returns how many were delivered.

    Rows are locked with SKIP LOCKED, so concurrent dispatchers never deliver the same row twice at once.
    Each workflow's rows go in id order; up to `concurrency` workflows' rows go to Temporal at once. One
    transaction per call: the lock, one UPDATE for every delivered row, and one per failure. A row that fails
    waits out its own backoff and is parked after PARK_AFTER_ATTEMPTS failures of its own, so rows that keep
    failing never stand in front of the others; while Temporal itself is unreachable the pass stops and no
    row is parked for it."""
    async with sessions() as session:
        stmt, params = (_BY_IDS, {"ids": list(ids)}) if ids is not None else (_DUE, {"limit": limit})
        rows = list((await session.execute(stmt, params)).scalars().all())
        held = await _starts_not_taken(session, rows, ids)
        # A signal whose workflow's start another dispatcher holds waits for the next pass.
        rows = [row for row in rows if not (row.action == "signal" and row.workflow_id in held)]
        # Each workflow's rows in id order, the workflows by their oldest row: the oldest work is tried first.
        by_workflow = [list(group) for _, group in groupby(sorted(rows, key=_workflow_order), key=_workflow)]
        by_workflow.sort(key=lambda group: group[0].id)
        slots = asyncio.Semaphore(concurrency)
        outage = asyncio.Event()
        groups = await asyncio.gather(*(_deliver_in_order(client, group, slots, outage) for group in by_workflow))
        outcomes = [outcome for group in groups for outcome in group]
        delivered = [outcome.row.id for outcome in outcomes if outcome.error is None]
        for outcome in outcomes:
            if outcome.error is not None:
                await _record_failure(session, outcome.row, outcome.error)
        if delivered:
            await session.execute(_DELIVERED, {"ids": delivered})
        await session.commit()
    return len(delivered)


def _workflow(row: TemporalOutbox) -> str:
    return row.workflow_id


def _workflow_order(row: TemporalOutbox) -> tuple[str, int]:
    return row.workflow_id, row.id


async def parked(session: AsyncSession, *, limit: int = 100) -> list[TemporalOutbox]:
    """Rows the relay gave up on, newest first, with their last error: what ops look at."""
    stmt = (
        select(TemporalOutbox)
        .where(TemporalOutbox.dispatched_at.is_(None), TemporalOutbox.parked_at.is_not(None))
        .order_by(TemporalOutbox.parked_at.desc(), TemporalOutbox.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def retry_parked(session: AsyncSession, row_id: int, actor: Actor) -> TemporalOutbox:
    """Put a parked row back in line, due now, with its attempts reset (audited)."""
    row = await session.get(TemporalOutbox, row_id, with_for_update=True)
    if row is None:
        raise NotFound(f"outbox row {row_id} not found")
    if row.dispatched_at is not None or row.parked_at is None:
        raise Conflict(f"outbox row {row_id} is not parked")
    await audit.record(
        session,
        actor,
        action="outbox.retry",
        target_type="outbox",
        target_id=str(row_id),
        details={"attempts": row.attempts, "last_error": row.last_error},
    )
    row.parked_at = None
    row.next_attempt_at = None
    row.attempts = 0
    await session.flush()
    return row
