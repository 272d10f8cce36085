"""The API process's fast path to Temporal: the outbox rows of committed requests, delivered in shared batches.

Each request used to deliver its own rows after its response, in a transaction of its own (lock, one UPDATE per
row, commit): under load that was a fifth of the API's busy CPU (py-spy during bench/ingest.py), spent on the
same event loop as the requests. Now a request hands its ids to the process's one `OutboxDelivery` and waits
(still after its response) until they are delivered. Up to `max_rounds` batches are with Temporal at once, so
one slow call holds up only its own batch; while they are, the next requests' ids gather, so the database cost
is paid once per batch, not once per request: the busier the process, the larger the batches. When more ids
wait than `max_waiting` (Temporal is slow and falls behind), a request leaves its rows to the worker's relay
instead of queueing here, so the API's memory and CPU stay bounded. Rows of one workflow written by requests
whose deliveries overlap may reach Temporal in either order, as they could when each request delivered its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.temporal import TemporalConnector
from services.platform import outbox

log = logging.getLogger("memberflow.api")

MAX_BATCH = 100  # rows per dispatch transaction (as the relay's)
MAX_ROUNDS = 2  # batches with Temporal at once, per process
# Temporal calls per batch at once: 2 x 4 per process, as many as the requests in flight used to make. Batches
# of 100 concurrent calls starved the dev server's SQLite (a fraction of its start rate was delivered).
CONCURRENCY = 4
MAX_WAITING = 1000  # beyond this many ids waiting in the process, new ones are left to the relay


class OutboxDelivery:
    """One per API process: `deliver` returns once the ids are delivered (or deferred to the relay)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalConnector,
        *,
        max_batch: int = MAX_BATCH,
        max_rounds: int = MAX_ROUNDS,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._max_batch = max_batch
        self._max_rounds = max_rounds
        self._max_waiting = max_waiting
        self._waiting: list[int] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._rounds: set[asyncio.Task[None]] = set()
        self.left_to_relay = 0  # ids not queued because too many were waiting (a count for tests and logs)

    async def deliver(self, ids: Sequence[int]) -> None:
        if len(self._waiting) + len(ids) > self._max_waiting:
            self.left_to_relay += len(ids)
            log.info("left %d Temporal command(s) to the outbox relay: %d waiting", len(ids), len(self._waiting))
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.extend(ids)
        self._waiters.append(done)
        if len(self._rounds) < self._max_rounds:
            task = asyncio.create_task(self._run())
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)
        await asyncio.shield(done)

    async def _run(self) -> None:
        """Deliver what waits, batch after batch: each takes every id waiting when it starts."""
        while self._waiting:
            ids, self._waiting = self._waiting, []
            waiters, self._waiters = self._waiters, []
            try:
                await self._dispatch(ids)
            finally:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _dispatch(self, ids: list[int]) -> None:
        try:
            client = await self._temporal.client()
            for start in range(0, len(ids), self._max_batch):
                batch = ids[start : start + self._max_batch]
                await outbox.dispatch(self._sessions, client, ids=batch, concurrency=CONCURRENCY)
        except Exception as exc:  # noqa: BLE001 - delivery is retried by the relay; the writes are committed
            log.warning("deferred %d Temporal command(s) to the outbox relay: %s", len(ids), exc)

    async def close(self, timeout: float = 10.0) -> None:
        """Let the batches in progress finish (what is left is the relay's)."""
        if self._rounds:
            _, busy = await asyncio.wait(set(self._rounds), timeout=timeout)
            if busy:
                log.warning("outbox delivery still busy at shutdown; the relay delivers the rest")
