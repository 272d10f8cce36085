"""A worker process for the crash test: `python -m tests.support.campaign_worker` polls the task queue named in
MEMBERFLOW_TEMPORAL__TASK_QUEUE until it is killed."""

from __future__ import annotations

import asyncio

from core.db import create_engine, create_session_factory
from core.settings import Settings
from core.temporal import connect
from worker import build_worker


async def main() -> None:
    settings = Settings()
    client = await connect(settings.temporal)
    sessions = create_session_factory(create_engine(settings))
    async with build_worker(client, sessions, settings.temporal.task_queue, settings):
        print("worker ready", flush=True)  # noqa: T201 - the test waits for this line
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
