"""The journey benchmark's worker process: the real worker and channel workers (as `worker.py` builds them) on
the queue from the settings, and the ceiling workflow's worker on `<queue>-ceiling`, in one process whose CPU
the benchmark reads. Prints "ready" once polling; stops on SIGTERM.

    MEMBERFLOW_DATABASE_URL=... MEMBERFLOW_TEMPORAL__ADDRESS=... python bench/journey_worker.py
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from ceiling import CeilingWorkflow, noop
from temporalio.worker import Worker

from core.db import create_engine, create_session_factory
from core.settings import get_settings
from core.temporal import connect
from worker import build_channel_workers, build_worker


async def main() -> None:
    settings = get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    client = await connect(settings.temporal)
    engine = create_engine(settings, pool_size=20)
    sessions = create_session_factory(engine)
    queue = settings.temporal.task_queue
    workers = [
        build_worker(client, sessions, queue, settings),
        *build_channel_workers(client, sessions, settings),
        Worker(client, task_queue=f"{queue}-ceiling", workflows=[CeilingWorkflow], activities=[noop]),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for running in workers:
            await stack.enter_async_context(running)
        print("ready", flush=True)
        await stop.wait()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
