"""Referral: one run per referee (`referral-{referee id}`), started by their first completed order. It waits
the programme's return window on a durable timer; a refund of that order (the `order_refunded` signal) ends the
wait and cancels; otherwise both members are rewarded. Ids only in the input, the signal and the history.

The activities settle the referral under a row lock, idempotently: a signal after the window, a retried
activity or a second run change nothing that is settled."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.referrals import ReferralActivities, SettleReferral
    from workflows.contracts import (
        REFERRAL_REFUND_SIGNAL,
        REFERRAL_WORKFLOW,
        STATUS_QUERY,
        ReferralInput,
        ReferralOutcome,
        ReferralRefund,
        ReferralStatus,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT


@workflow.defn(name=REFERRAL_WORKFLOW)
class ReferralWorkflow:
    def __init__(self) -> None:
        self._status = ReferralStatus(state="waiting")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ReferralStatus:
        return self._status

    @workflow.signal(name=REFERRAL_REFUND_SIGNAL)
    def order_refunded(self, refund: ReferralRefund) -> None:
        """The first refund counts; a later one (or one after the decision) changes nothing."""
        if self._status.refund_id is None and self._status.state == "waiting":
            self._status = self._status.model_copy(update={"refund_id": refund.refund_id})

    @workflow.run
    async def run(self, inp: ReferralInput) -> ReferralOutcome:
        if not inp.referral_id or not inp.referee_id:
            raise ApplicationError("a referral run needs its referral and referee", non_retryable=True)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._status.refund_id is not None, timeout=timedelta(days=inp.window_days)
            )
        self._status = self._status.model_copy(update={"state": "deciding"})
        settle = ReferralActivities.cancel if self._status.refund_id else ReferralActivities.reward
        settled = await workflow.execute_activity_method(
            settle,
            SettleReferral(referral_id=inp.referral_id, reason="order_refunded" if self._status.refund_id else None),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        state = "rewarded" if settled.status == "rewarded" else "cancelled"
        self._status = self._status.model_copy(update={"state": state})
        return ReferralOutcome(result=settled.status)
