"""A tiny workflow that sends one message the way a journey step does: on the channel's task queue, with a
retry policy, waiting out quiet hours and then calling again with the same input."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messaging import SEND_ACTIVITY, SendMessageInput, SendMessageResult, channel_task_queue

SEND_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0, maximum_attempts=5)


class SendOnceOutcome(SendMessageResult):
    deferrals: int


@workflow.defn
class SendOnceWorkflow:
    @workflow.run
    async def run(self, inp: SendMessageInput) -> SendOnceOutcome:
        deferrals = 0
        while True:
            result = await workflow.execute_activity(
                SEND_ACTIVITY,
                inp,
                result_type=SendMessageResult,
                task_queue=channel_task_queue(workflow.info().task_queue, inp.channel),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=SEND_RETRY,
            )
            if result.status != "deferred" or result.retry_at is None:
                return SendOnceOutcome(**result.model_dump(), deferrals=deferrals)
            deferrals += 1
            await workflow.sleep(max(result.retry_at - workflow.now(), timedelta(seconds=1)))
