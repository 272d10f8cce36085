"""The API's Temporal client: connected lazily and reconnected after failure, so the API starts (and says
what is down on /readyz) even while Temporal is unavailable. It also keeps the worker's task queue backlog,
read at most every few seconds, for /metrics and the dashboard."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from core.errors import ServiceUnavailable
from core.settings import TemporalSettings
from core.temporal import connect
from services.platform import taskqueues

log = logging.getLogger(__name__)


class TemporalConnector:
    def __init__(self, settings: TemporalSettings, client: Client | None = None, connect_timeout: float = 5.0) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()
        self._timeout = connect_timeout
        self.queues = taskqueues.TaskQueueWatch(taskqueues.worker_task_queues(settings.task_queue))

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), timeout=self._timeout)
                except (RuntimeError, TimeoutError) as exc:
                    raise ServiceUnavailable(
                        f"Temporal at {self._settings.address} is not reachable",
                        code="temporal_unavailable",
                    ) from exc
            return self._client

    async def healthy(self, timeout: float = 2.0) -> tuple[bool, str | None]:
        try:
            client = await self.client()
            await asyncio.wait_for(client.service_client.check_health(), timeout=timeout)
        except ServiceUnavailable as exc:
            return False, exc.message
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
            return False, f"Temporal health check failed: {exc}"
        return True, None

    async def task_queue_backlog(self) -> taskqueues.TaskQueueReport:
        """The tasks waiting on the worker's queues (cached a few seconds); unknown while Temporal is away."""
        return await self.queues.report(self.client)
