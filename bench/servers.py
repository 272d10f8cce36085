"""A throw-away embedded PostgreSQL (migrated) and file-backed Temporal dev server in one folder, for the
benchmarks that run the worker in their own process; both are stopped however the benchmark ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from core.migrate import upgrade
from core.settings import Settings, TemporalSettings
from devstack.embedded import EmbeddedPostgres, TemporalDevServer, free_port


@contextlib.asynccontextmanager
async def embedded_servers(root: Path, database: str = "bench") -> AsyncIterator[Settings]:
    """Start both servers under `root`, create and migrate `database`; the settings that reach them."""
    postgres = EmbeddedPostgres(root / "pg", free_port(), root / "postgres.log")
    temporal = TemporalDevServer(root / "temporal.db", free_port(), None, root / "temporal.log")
    postgres.start()
    temporal.start()
    try:
        postgres.ensure_database(database)
        await asyncio.to_thread(upgrade, postgres.url(database))
        yield Settings(database_url=postgres.url(database), temporal=TemporalSettings(address=temporal.address))
    finally:
        temporal.stop()
        postgres.stop()
