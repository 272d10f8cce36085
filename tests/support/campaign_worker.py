"""A worker process for the crash test: `python -m tests.support.campaign_worker` polls the task queue named in
MEMBERFLOW_TEMPORAL__TASK_QUEUE until it is killed.

With CAMPAIGN_WORKER_START_DELAY (seconds) every workflow start its activities make waits that long first, so
an enrolment page takes seconds instead of milliseconds and the test's kill lands inside a page for certain,
rather than racing a page that may already have finished."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle

from core.db import create_engine, create_session_factory
from core.settings import Settings
from core.temporal import connect
from worker import build_worker


class _SlowStarts(Interceptor):
    def __init__(self, delay: float) -> None:
        self._delay = delay

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:  # noqa: A002 - the SDK's name
        return _SlowStartsOutbound(next, self._delay)


class _SlowStartsOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, delay: float) -> None:  # noqa: A002 - the SDK's name
        super().__init__(next)
        self._delay = delay

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:  # noqa: A002
        await asyncio.sleep(self._delay)
        return await super().start_workflow(input)


async def main() -> None:
    settings = Settings()
    client = await connect(settings.temporal)
    delay = float(os.environ.get("CAMPAIGN_WORKER_START_DELAY", "0"))
    if delay:
        client = Client(**{**client.config(), "interceptors": [_SlowStarts(delay)]})
    sessions = create_session_factory(create_engine(settings))
    async with build_worker(client, sessions, settings.temporal.task_queue, settings):
        print("worker ready", flush=True)  # noqa: T201 - the test waits for this line
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
