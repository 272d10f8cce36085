"""Revocations heard from other processes: a LISTEN on PostgreSQL's `api_keys.REVOKED_CHANNEL` clears this
process's key cache whenever any process commits a revocation. With several API processes, a key revoked
in one is refused by all of them within a round trip, not after the cache's TTL. If the listening
connection is lost, it is opened again; until then the TTL still bounds a revoked key's life."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.platform import api_keys

log = logging.getLogger("memberflow.api")
RETRY_SECONDS = 5.0


def _cleared(*_: Any) -> None:
    api_keys.KEYS.clear()


def _setter(flag: asyncio.Event) -> Callable[[Any], None]:
    return lambda _: flag.set()


async def _listen(engine: AsyncEngine, listening: asyncio.Event) -> None:
    while True:
        try:
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                closed = asyncio.Event()
                driver.add_termination_listener(_setter(closed))
                await driver.add_listener(api_keys.REVOKED_CHANNEL, _cleared)
                listening.set()
                try:
                    # Anything revoked while this process was not listening is forgotten now.
                    api_keys.KEYS.clear()
                    await closed.wait()
                finally:
                    listening.clear()
                    # The connection goes back to the pool: it must not keep listening there.
                    if not driver.is_closed():
                        await driver.remove_listener(api_keys.REVOKED_CHANNEL, _cleared)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the TTL covers the gap; listening resumes shortly
            log.warning("not listening for API key revocations (%s); retrying in %.0f s", exc, RETRY_SECONDS)
        await asyncio.sleep(RETRY_SECONDS)


@contextlib.asynccontextmanager
async def watching_revocations(engine: AsyncEngine) -> AsyncIterator[asyncio.Event]:
    """Listen for revocations while the app runs; the event yielded is set while the LISTEN is active."""
    listening = asyncio.Event()
    task = asyncio.create_task(_listen(engine, listening), name="api-key-revocations")
    try:
        yield listening
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
