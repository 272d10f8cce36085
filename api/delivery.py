"""The API process's fast path to Temporal: each committed request's outbox rows, delivered after its response,
with a bound on how many such deliveries one process keeps in flight.

Each delivery is one transaction (`outbox.dispatch`: lock the rows, send them, one UPDATE). Deliveries of
concurrent requests run concurrently, as many as Temporal's latency needs to keep up with the requests; a
version that batched concurrent requests' rows into a few shared transactions with a fixed number of Temporal
calls in flight delivered a fraction of the rate under load (its concurrency could not grow with Temporal's
latency; docs/benchmarks.md, live ingest). When `max_in_flight` deliveries are already running in the process
(Temporal has fallen behind), a request leaves its rows to the worker's relay instead, so the API's memory and
CPU stay bounded whatever the backlog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.temporal import TemporalConnector
from services.platform import outbox

log = logging.getLogger("memberflow.api")

MAX_IN_FLIGHT = 500  # deliveries running at once in one API process; beyond, rows are left to the relay


class OutboxDelivery:
    """One per API process: `deliver` returns once the ids are delivered (or left to the relay)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalConnector,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._max_in_flight = max_in_flight
        self._running: set[asyncio.Task[None]] = set()
        self.left_to_relay = 0  # ids not delivered here because too many deliveries were running

    async def deliver(self, ids: Sequence[int]) -> None:
        if len(self._running) >= self._max_in_flight:
            self.left_to_relay += len(ids)
            log.info(
                "left %d Temporal command(s) to the outbox relay: %d deliveries running", len(ids), len(self._running)
            )
            return
        task = asyncio.create_task(self._dispatch(list(ids)))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await asyncio.shield(task)

    async def _dispatch(self, ids: list[int]) -> None:
        try:
            client = await self._temporal.client()
            await outbox.dispatch(self._sessions, client, ids=ids, concurrency=max(1, len(ids)))
        except Exception as exc:  # noqa: BLE001 - delivery is retried by the relay; the writes are committed
            log.warning("deferred %d Temporal command(s) to the outbox relay: %s", len(ids), exc)

    async def close(self, timeout: float = 10.0) -> None:
        """Let the deliveries in progress finish (what is left is the relay's)."""
        if self._running:
            _, busy = await asyncio.wait(set(self._running), timeout=timeout)
            if busy:
                log.warning("outbox delivery still busy at shutdown; the relay delivers the rest")
