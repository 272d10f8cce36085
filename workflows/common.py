"""What the workflows share: retry policies, activity timeouts, and sending one message (with the wait through
the member's quiet hours). Deterministic: only `workflow.*` calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messaging import SEND_ACTIVITY, SendMessageInput, SendMessageResult, channel_task_queue

# Our own activities (database work): retried until they succeed; business failures are non-retryable errors.
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Sends and notices reach a provider: bounded, so the last attempt records the message as failed instead of
# retrying forever.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10), maximum_attempts=10
)
SEND_TIMEOUT = timedelta(minutes=1)
# The daily scans: one long activity each.
SCAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5))
SCAN_TIMEOUT = timedelta(minutes=10)
# Ledger maintenance batches.
MAINTENANCE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))
# A wait for a moment is never shorter than this, so a moment already past for the run (a retry_at judged by
# another clock) can not spin it in a tight loop.
MIN_DEFER_SECONDS = 60.0


def defer_delay(moment: datetime) -> timedelta:
    """How long to wait for `moment` by the run's clock: at least MIN_DEFER_SECONDS."""
    return timedelta(seconds=max(MIN_DEFER_SECONDS, (moment - workflow.now()).total_seconds()))


async def sleep_until(moment: datetime) -> None:
    await workflow.sleep(defer_delay(moment))


async def send_message(
    message: SendMessageInput,
    *,
    interrupted: Callable[[], bool] | None = None,
    at_workflow_time: bool = True,
) -> SendMessageResult | None:
    """Send one message on its channel's task queue and return the result. Deferred by quiet hours, it waits
    for the member's window to open (at least a minute) and tries again with the same key; None when
    `interrupted` became true during that wait (an exit event ended the run).

    `at_workflow_time`: every attempt carries `as_of=workflow.now()`, so quiet hours and the frequency window
    are judged by the run's clock. The approval's notices (transactional, never deferred) leave it unset and
    keep the worker's clock, as they always have."""
    while True:
        attempt = message.model_copy(update={"as_of": workflow.now()}) if at_workflow_time else message
        result: SendMessageResult = await workflow.execute_activity(
            SEND_ACTIVITY,
            attempt,
            result_type=SendMessageResult,
            task_queue=channel_task_queue(workflow.info().task_queue, message.channel),
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=SEND_RETRY,
        )
        if result.status != "deferred" or result.retry_at is None:
            return result
        delay = defer_delay(result.retry_at)
        if interrupted is None:
            await workflow.sleep(delay)
            continue
        try:
            await workflow.wait_condition(interrupted, timeout=delay)
        except TimeoutError:
            continue
        return None
