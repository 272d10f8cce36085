"""The backlog where it really builds up: workflow and activity tasks waiting in Temporal's task queues for a
worker. The outbox only shows commands not yet handed to Temporal; once Temporal has them, a run can still wait
tens of seconds for its first workflow task or activity when the workers (or the server) are behind.

Read with DescribeTaskQueue in enhanced mode with `report_stats`, one call per queue for both task types, and
kept for a few seconds, so however often /metrics and the dashboard ask, the server answers at most one call per
queue per interval, and a Temporal outage is a clear "unknown" instead of an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from temporalio.api.enums.v1 import DescribeTaskQueueMode, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse
from temporalio.client import Client

# The worker's message channels each have their own task queue, `{task_queue}-{channel}`
# (activities.messaging.channel_task_queue; the tests check the two agree).
CHANNELS = ("email", "sms")


class TaskKind(StrEnum):
    WORKFLOW = "workflow"
    ACTIVITY = "activity"


_TYPES = {
    TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW: TaskKind.WORKFLOW,
    TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY: TaskKind.ACTIVITY,
}


def worker_task_queues(task_queue: str) -> list[str]:
    """Every queue the worker polls: workflows and domain activities, then one per message channel."""
    return [task_queue, *(f"{task_queue}-{channel}" for channel in CHANNELS)]


@dataclass(frozen=True)
class QueueBacklog:
    """Tasks of one kind waiting on one queue (approximate, as Temporal counts them: sticky workflow tasks, which
    live a few seconds at most, are not included)."""

    task_queue: str
    kind: TaskKind
    count: int
    oldest_age_seconds: float


@dataclass(frozen=True)
class TaskQueueReport:
    """One reading of all the worker's queues; `error` says why there is none (Temporal down, unsupported)."""

    backlogs: tuple[QueueBacklog, ...]
    error: str | None = None
    read_at: float = 0.0  # time.monotonic()

    @property
    def known(self) -> bool:
        return self.error is None

    def total(self, kind: TaskKind) -> int:
        return sum(b.count for b in self.backlogs if b.kind == kind)

    def oldest(self, kind: TaskKind) -> float:
        return max((b.oldest_age_seconds for b in self.backlogs if b.kind == kind), default=0.0)


def _backlogs(task_queue: str, response: DescribeTaskQueueResponse) -> list[QueueBacklog]:
    """Both task types of the queue, summed over its build ids (an unversioned worker reports one, "")."""
    counts: dict[TaskKind, int] = dict.fromkeys(TaskKind, 0)
    ages: dict[TaskKind, float] = dict.fromkeys(TaskKind, 0.0)
    for version in response.versions_info.values():
        for task_type, info in version.types_info.items():
            kind = _TYPES.get(TaskQueueType.ValueType(task_type))
            if kind is None:
                continue
            counts[kind] += info.stats.approximate_backlog_count
            ages[kind] = max(ages[kind], info.stats.approximate_backlog_age.ToTimedelta().total_seconds())
    return [QueueBacklog(task_queue, kind, counts[kind], ages[kind]) for kind in TaskKind]


async def describe(client: Client, task_queue: str, *, timeout: float = 2.0) -> list[QueueBacklog]:
    """One DescribeTaskQueue call (enhanced mode, stats for workflow and activity tasks together)."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        api_mode=DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
        task_queue_types=list(_TYPES),
        report_stats=True,
    )
    response = await asyncio.wait_for(client.workflow_service.describe_task_queue(request), timeout=timeout)
    return _backlogs(task_queue, response)


async def read(client: Client, queues: Sequence[str], *, timeout: float = 2.0) -> TaskQueueReport:
    """All the queues at once; any failure makes the whole reading unknown (a partial one would mislead)."""
    try:
        found = await asyncio.gather(*(describe(client, queue, timeout=timeout) for queue in queues))
    except Exception as exc:  # noqa: BLE001 - unreachable, unimplemented, timed out: all mean "unknown"
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return TaskQueueReport((), error=reason[:300], read_at=time.monotonic())
    return TaskQueueReport(tuple(b for backlogs in found for b in backlogs), read_at=time.monotonic())


class TaskQueueWatch:
    """The latest reading, refreshed at most every `ttl` seconds; concurrent askers share one refresh, and a
    failed reading is kept as long as a good one, so an outage costs no more calls than a healthy server."""

    def __init__(self, queues: Sequence[str], *, ttl: float = 5.0, timeout: float = 2.0) -> None:
        self.queues = list(queues)
        self._ttl = ttl
        self._timeout = timeout
        self._last: TaskQueueReport | None = None
        self._lock = asyncio.Lock()

    async def report(self, connect: Callable[[], Awaitable[Client]]) -> TaskQueueReport:
        """The cached reading, or a new one through the client `connect` returns (only when one is due, so a
        server that cannot be reached is not dialled at every scrape)."""
        if self._last is not None and self._fresh(self._last):
            return self._last
        async with self._lock:
            if self._last is None or not self._fresh(self._last):
                self._last = await self._read(connect)
            return self._last

    async def _read(self, connect: Callable[[], Awaitable[Client]]) -> TaskQueueReport:
        try:
            client = await connect()
        except Exception as exc:  # noqa: BLE001 - whatever stops the connection, the reading is unknown
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            return TaskQueueReport((), error=str(reason)[:300], read_at=time.monotonic())
        return await read(client, self.queues, timeout=self._timeout)

    def _fresh(self, report: TaskQueueReport) -> bool:
        return time.monotonic() - report.read_at < self._ttl
