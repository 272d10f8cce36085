"""Temporal pieces the tests share: the real workers on a test's task queue, and where saved histories live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from core.settings import Settings
from worker import build_channel_workers, build_worker

# Written by the tests that record them (MEMBERFLOW_RECORD_HISTORIES=1), replayed by tests/workflows/test_replay.py.
HISTORIES = Path(__file__).resolve().parent.parent / "histories"


@asynccontextmanager
async def started_workers(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[list[Worker]]:
    """The real worker on `settings.temporal.task_queue` and one per message channel, as `worker.py` runs them.
    On exit stops those a test has not already shut down itself."""
    running = [
        build_worker(client, sessions, settings.temporal.task_queue, settings),
        *build_channel_workers(client, sessions, settings),
    ]
    for worker in running:
        await worker.__aenter__()
    try:
        yield running
    finally:
        for worker in reversed(running):
            if not worker.is_shutdown:
                await worker.__aexit__(None, None, None)
