"""Messages of a rule firing: each after its delay, once. The workflow id is the firing's
(`rule-{rule id}-v{version}-{event key}`) and every message key derives from it, so neither a redelivered
outbox row nor an activity retry can send a message twice. The input carries ids only."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.journeys import CouponInput, IssuedCoupon, JourneyActivities
    from activities.messaging import SendMessageInput
    from activities.rules import OrderedSince, OrderedSinceInput, RuleActivities
    from workflows.contracts import (
        RULE_MESSAGE_WORKFLOW,
        STATUS_QUERY,
        RuleMessageInput,
        RuleMessageOutcome,
        RuleMessageStatus,
        RuleSend,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, send_message, sleep_until


@workflow.defn(name=RULE_MESSAGE_WORKFLOW)
class RuleMessageWorkflow:
    def __init__(self) -> None:
        self._input: RuleMessageInput | None = None
        self._state = "starting"
        self._results: list[str] = []
        self._current: int | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> RuleMessageStatus:
        assert self._input is not None
        return RuleMessageStatus(
            member_id=self._input.member_id,
            rule_id=self._input.rule_id,
            state=self._state,
            results=list(self._results),
            current=self._current,
        )

    @workflow.run
    async def run(self, inp: RuleMessageInput) -> RuleMessageOutcome:
        self._input = inp
        results = self._results
        for send in sorted(inp.sends, key=lambda s: (s.delay_seconds, s.index)):
            self._current, self._state = send.index, "waiting"
            # Delays count from the event, so a late start does not push the message back.
            due = inp.event_at + timedelta(seconds=send.delay_seconds)
            await sleep_until(due)
            self._state = "sending"
            if send.unless_ordered:
                since: OrderedSince = await workflow.execute_activity_method(
                    RuleActivities.ordered_since,
                    OrderedSinceInput(member_id=inp.member_id, since=inp.event_at),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
                if since.ordered:
                    results.append(f"{send.index}:skipped_ordered")
                    continue
            results.append(f"{send.index}:{await self._send(inp, send)}")
        self._current, self._state = None, "done"
        return RuleMessageOutcome(results=list(results))

    async def _send(self, inp: RuleMessageInput, send: RuleSend) -> str:
        key = f"{workflow.info().workflow_id}:{send.index}"
        coupon_code = None
        if send.coupon:
            coupon: IssuedCoupon = await workflow.execute_activity_method(
                JourneyActivities.issue_coupon,
                CouponInput(member_id=inp.member_id, template=send.coupon, issue_key=f"{key}:coupon"),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
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
        # Quiet hours: it waits for the member's window to open, then tries again with the same key.
        result = await send_message(message)
        assert result is not None  # nothing interrupts the wait
        return result.status
