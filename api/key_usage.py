"""Writes the keys' last use in the background: every `interval / 4` seconds this process writes, in one
transaction, the uses of the keys it has not written for `interval` seconds (at most one write per key per
interval, never one on a request), and at shutdown whatever is left. Several processes write the same column;
the latest time wins. The same loop deletes ended windows of the failed-authentication count."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth_guard import AuthGuard
from services.platform import api_keys

log = logging.getLogger("memberflow.api")


async def write_due(sessions: async_sessionmaker[AsyncSession], interval: float, *, now: float | None = None) -> int:
    """Write the uses that are due at `now` (monotonic; default: now); returns how many keys were written."""
    due = api_keys.USES.due(interval, now=now)
    if due:
        async with sessions() as session:
            await api_keys.write_last_used(session, due)
            await session.commit()
    return len(due)


async def _write_pending(sessions: async_sessionmaker[AsyncSession]) -> None:
    pending = api_keys.USES.pending()
    if pending:
        async with sessions() as session:
            await api_keys.write_last_used(session, pending)
            await session.commit()


async def _loop(sessions: async_sessionmaker[AsyncSession], guard: AuthGuard, interval: float) -> None:
    while True:
        await asyncio.sleep(interval / 4)
        try:
            await write_due(sessions, interval)
            await guard.sweep()
        except (OSError, DBAPIError) as exc:  # the uses are lost, not the requests; the next minute writes again
            log.warning("could not write the API keys' last use: %s", exc)


@contextlib.asynccontextmanager
async def recording_key_use(
    sessions: async_sessionmaker[AsyncSession], guard: AuthGuard, interval: float
) -> AsyncIterator[None]:
    task = asyncio.create_task(_loop(sessions, guard, interval), name="api-key-last-use")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await _write_pending(sessions)
        except (OSError, DBAPIError) as exc:
            log.warning("could not write the API keys' last use at shutdown: %s", exc)
