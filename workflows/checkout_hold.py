"""CheckoutHold: the durable timer of one checkout paying with points. It waits until the checkout's timeout
unless the API settles it first (capture with the order, or release on abandonment, each signalled after its
commit); at the timeout its activity releases whatever is still held. The activity locks the checkout's row,
so a capture racing the timeout settles it exactly once."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.checkouts import CheckoutActivities, ExpireInput
    from workflows.contracts import (
        CHECKOUT_HOLD_WORKFLOW,
        CHECKOUT_SETTLED_SIGNAL,
        STATUS_QUERY,
        CheckoutInput,
        CheckoutOutcome,
        CheckoutSettled,
        CheckoutStatus,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT


@workflow.defn(name=CHECKOUT_HOLD_WORKFLOW)
class CheckoutHold:
    def __init__(self) -> None:
        self._checkout_id = ""
        self._status = "waiting"
        self._settled: str | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> CheckoutStatus:
        return CheckoutStatus(checkout_id=self._checkout_id, status=self._status)

    @workflow.signal(name=CHECKOUT_SETTLED_SIGNAL)
    def settled(self, signal: CheckoutSettled) -> None:
        self._settled = signal.status

    @workflow.run
    async def run(self, inp: CheckoutInput) -> CheckoutOutcome:
        self._checkout_id = inp.checkout_id
        remaining = (inp.expires_at - workflow.now()).total_seconds()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._settled is not None, timeout=timedelta(seconds=max(remaining, 0.001))
            )
        if self._settled is not None:
            self._status = self._settled
            return CheckoutOutcome(status=self._status)
        result = await workflow.execute_activity_method(
            CheckoutActivities.expire,
            ExpireInput(checkout_id=inp.checkout_id),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._status = result.status
        return CheckoutOutcome(status=self._status)
