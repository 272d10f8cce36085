"""Messages of a rule firing: each after its delay, once. The workflow id is the firing's
(`rule-{rule id}-v{version}-{event key}`) and every message key derives from it, so neither a redelivered
outbox row nor an activity retry can send a message twice. The input carries ids only."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.journeys import CouponInput, IssuedCoupon, JourneyActivities
    from activities.messaging import SEND_ACTIVITY, SendMessageInput, SendMessageResult, channel_task_queue
    from activities.rules import OrderedSince, OrderedSinceInput, RuleActivities

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Bounded, so the last attempt records the message as failed instead of retrying forever.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10), maximum_attempts=10
)
SHORT = timedelta(seconds=30)


class RuleSend(BaseModel):
    index: int
    channel: str
    template: str
    category: str = "marketing"
    coupon: str | None = None
    delay_seconds: int = 0
    unless_ordered: bool = False


class RuleMessageInput(BaseModel):
    member_id: str
    rule_id: str
    version: int
    event_at: datetime
    sends: list[RuleSend]


class RuleMessageOutcome(BaseModel):
    # per send: "{index}:{sent|suppressed|failed|skipped_ordered}"
    results: list[str]


@workflow.defn
class RuleMessageWorkflow:
    @workflow.run
    async def run(self, inp: RuleMessageInput) -> RuleMessageOutcome:
        results: list[str] = []
        for send in sorted(inp.sends, key=lambda s: (s.delay_seconds, s.index)):
            # Delays count from the event, so a late start does not push the message back.
            due = inp.event_at + timedelta(seconds=send.delay_seconds)
            await _sleep_until(due)
            if send.unless_ordered:
                since: OrderedSince = await workflow.execute_activity_method(
                    RuleActivities.ordered_since,
                    OrderedSinceInput(member_id=inp.member_id, since=inp.event_at),
                    start_to_close_timeout=SHORT,
                    retry_policy=RETRY,
                )
                if since.ordered:
                    results.append(f"{send.index}:skipped_ordered")
                    continue
            results.append(f"{send.index}:{await self._send(inp, send)}")
        return RuleMessageOutcome(results=results)

    async def _send(self, inp: RuleMessageInput, send: RuleSend) -> str:
        key = f"{workflow.info().workflow_id}:{send.index}"
        coupon_code = None
        if send.coupon:
            coupon: IssuedCoupon = await workflow.execute_activity_method(
                JourneyActivities.issue_coupon,
                CouponInput(member_id=inp.member_id, template=send.coupon, issue_key=f"{key}:coupon"),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            coupon_code = coupon.code
        message = SendMessageInput.model_validate(
            {
                "message_key": key,
                "member_id": inp.member_id,
                "channel": send.channel,
                "template": send.template,
                "category": send.category,
                "coupon_code": coupon_code,
            }
        )
        while True:
            result: SendMessageResult = await workflow.execute_activity(
                SEND_ACTIVITY,
                message.model_copy(update={"as_of": workflow.now()}),
                result_type=SendMessageResult,
                task_queue=channel_task_queue(workflow.info().task_queue, send.channel),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=SEND_RETRY,
            )
            if result.status != "deferred" or result.retry_at is None:
                return result.status
            # Quiet hours: wait for the member's window to open, then try again with the same key.
            await _sleep_until(result.retry_at)


async def _sleep_until(moment: datetime) -> None:
    # At least a minute, so a retry_at that is already past for this run can not spin it in a tight loop.
    seconds = (moment - workflow.now()).total_seconds()
    await workflow.sleep(timedelta(seconds=max(60.0, seconds)))
