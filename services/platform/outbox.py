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
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models import TemporalOutbox
from workflows.contracts import SEARCH_ATTRIBUTES, WorkflowSignal, WorkflowStart

log = logging.getLogger(__name__)

# Rows younger than this are left to the request that wrote them (its fast path), so the relay and the
# API do not both try the same row at the same moment.
RELAY_GRACE = timedelta(seconds=5)
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

    @property
    def total(self) -> int:
        return self.starts + self.signals


async def backlog(session: AsyncSession) -> Backlog:
    """One scan of the pending rows (a partial index keeps it to those alone)."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE action <> 'signal') AS starts, "
                "count(*) FILTER (WHERE action = 'signal') AS signals, "
                "coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest "
                "FROM temporal_outbox WHERE dispatched_at IS NULL"
            )
        )
    ).one()
    return Backlog(starts=row.starts, signals=row.signals, oldest_age_seconds=float(row.oldest))


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
                raise RuntimeError(f"the previous run of {row.workflow_id} is still open") from None
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


# Built once: constructing these per call was a third of the API's delivery CPU (py-spy, bench/ingest.py).
_PENDING = select(TemporalOutbox).where(TemporalOutbox.dispatched_at.is_(None))
_BY_IDS = (
    _PENDING.where(TemporalOutbox.id.in_(bindparam("ids", expanding=True)))
    .order_by(TemporalOutbox.id)
    .with_for_update(skip_locked=True)
)
_DUE = (
    _PENDING.where(TemporalOutbox.created_at < func.now() - RELAY_GRACE)
    .order_by(TemporalOutbox.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_DELIVERED = text(
    "UPDATE temporal_outbox SET dispatched_at = now(), attempts = attempts + 1, last_error = NULL "
    "WHERE id = ANY(CAST(:ids AS bigint[]))"
)
_FAILED = text("UPDATE temporal_outbox SET attempts = attempts + 1, last_error = :error WHERE id = :id")


# Temporal calls one dispatch (the relay's pass of up to 100 rows) has in flight at once.
DISPATCH_CONCURRENCY = 8


async def _deliver_in_order(
    client: Client, rows: list[TemporalOutbox], slots: asyncio.Semaphore
) -> list[tuple[int, Exception | None]]:
    """One workflow's rows, oldest first (a start before the signal that follows it)."""
    outcomes: list[tuple[int, Exception | None]] = []
    async with slots:
        for row in rows:
            try:
                await _deliver(client, row)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried by the relay
                log.warning("outbox %s (%s %s) failed: %s", row.id, row.action, row.workflow_id, exc)
                outcomes.append((row.id, exc))
            else:
                outcomes.append((row.id, None))
    return outcomes


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
    transaction per call: the lock, one UPDATE for every delivered row, and one per failure."""
    async with sessions() as session:
        stmt, params = (_BY_IDS, {"ids": list(ids)}) if ids is not None else (_DUE, {"limit": limit})
        rows = list((await session.execute(stmt, params)).scalars().all())
        by_workflow = [list(group) for _, group in groupby(sorted(rows, key=_workflow_order), key=_workflow)]
        slots = asyncio.Semaphore(concurrency)
        outcomes = await asyncio.gather(*(_deliver_in_order(client, group, slots) for group in by_workflow))
        delivered = [row_id for group in outcomes for row_id, error in group if error is None]
        for row_id, error in (pair for group in outcomes for pair in group if pair[1] is not None):
            await session.execute(_FAILED, {"id": row_id, "error": str(error)[:2000]})
        if delivered:
            await session.execute(_DELIVERED, {"ids": delivered})
        await session.commit()
    return len(delivered)


def _workflow(row: TemporalOutbox) -> str:
    return row.workflow_id


def _workflow_order(row: TemporalOutbox) -> tuple[str, int]:
    return row.workflow_id, row.id
