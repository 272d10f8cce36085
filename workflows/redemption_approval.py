"""RedemptionApproval: a high-value redemption waits for an approver, escalates, expires, or is cancelled.

The points are already held (placed with the redemption). Decisions arrive as Temporal updates with
validators, so the history shows who decided and when, and two approvers at once cannot both win. The
workflow's activities are the only writers of the approval and redemption statuses."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.approvals import (
        ApprovalActivities,
        Opened,
        OpenInput,
        SettleInput,
        ShippedInput,
        StaffNotice,
        WarehouseNotice,
    )
    from activities.messaging import SendMessageInput
    from workflows.contracts import (
        CANCEL_UPDATE,
        DECIDE_UPDATE,
        JOURNEY_STEP,
        REDEMPTION_APPROVAL_WORKFLOW,
        SHIPPED_UPDATE,
        STATUS_QUERY,
        ApprovalInput,
        ApprovalOutcome,
        ApprovalStatus,
        CancelRequest,
        Decision,
        ShippedRequest,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, SEND_RETRY, SEND_TIMEOUT, send_message

SHIPPING_WAIT = timedelta(days=180)
DECIDERS = frozenset({"approver", "admin"})


@workflow.defn(name=REDEMPTION_APPROVAL_WORKFLOW)
class RedemptionApproval:
    def __init__(self) -> None:
        self._input = ApprovalInput(redemption_id="")
        self._opened: Opened | None = None
        self._step = "start"
        self._status = "opening"
        self._decision: Decision | CancelRequest | None = None
        self._decided_by: str | None = None
        self._settled: str | None = None
        self._escalated = False
        self._tracking: str | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ApprovalStatus:
        return ApprovalStatus(
            step=self._step, status=self._status, decided_by=self._decided_by, escalated=self._escalated
        )

    @workflow.update(name=DECIDE_UPDATE)
    async def decide(self, decision: Decision) -> ApprovalOutcome:
        if self._decision is not None:  # a second update accepted in the same task as the first
            raise ApplicationError(f"already decided by {self._decided_by}", type="AlreadyDecided")
        self._decision = decision
        self._decided_by = decision.approver
        await workflow.wait_condition(lambda: self._settled is not None)
        return ApprovalOutcome(status=self._status, decided_by=self._decided_by)

    @decide.validator
    def _check_decision(self, decision: Decision) -> None:
        if decision.role not in DECIDERS:
            raise ApplicationError("only approvers decide", type="NotAnApprover")
        if self._status != "pending" or self._decision is not None:
            raise ApplicationError(
                f"this redemption is {self._status}" + (f", decided by {self._decided_by}" if self._decided_by else ""),
                type="AlreadyDecided",
            )
        if self._opened and decision.approver_key == self._opened.requested_by_key:
            raise ApplicationError("the person who requested a redemption cannot approve it", type="SelfApproval")
        if decision.action == "reject" and not (decision.reason or "").strip():
            raise ApplicationError("a rejection needs a reason", type="ReasonRequired")

    @workflow.update(name=CANCEL_UPDATE)
    async def cancel(self, request: CancelRequest) -> ApprovalOutcome:
        if self._decision is not None:
            raise ApplicationError(f"already decided by {self._decided_by}", type="AlreadyDecided")
        self._decision = request
        self._decided_by = "member"
        await workflow.wait_condition(lambda: self._settled is not None)
        return ApprovalOutcome(status=self._status, decided_by=self._decided_by)

    @cancel.validator
    def _check_cancel(self, request: CancelRequest) -> None:  # noqa: ARG002 - the signature must match
        if self._status != "pending" or self._decision is not None:
            raise ApplicationError(f"this redemption is {self._status}", type="AlreadyDecided")

    @workflow.update(name=SHIPPED_UPDATE)
    async def shipped(self, request: ShippedRequest) -> ApprovalOutcome:
        self._tracking = request.tracking_number
        await workflow.wait_condition(lambda: self._status == "fulfilled")
        return ApprovalOutcome(status=self._status, decided_by=self._decided_by)

    @shipped.validator
    def _check_shipped(self, request: ShippedRequest) -> None:
        if self._status != "fulfilling" or self._tracking is not None:
            raise ApplicationError(f"this redemption is {self._status}", type="NotShippable")
        if not request.tracking_number.strip():
            raise ApplicationError("a tracking number is required", type="ReasonRequired")

    def _enter(self, step: str) -> None:
        self._step = step
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set(step)])

    async def _tell_member(self, template: str, reason: str | None = None) -> None:
        assert self._opened is not None
        context = {
            "redemption_id": self._input.redemption_id,
            "reward_name": self._opened.reward_name,
            "points": str(self._opened.points),
        }
        if reason:
            context["reason"] = reason
        if self._tracking:
            context["tracking"] = self._tracking
        await send_message(
            SendMessageInput(
                message_key=f"{workflow.info().workflow_id}:{template}",
                member_id=self._opened.member_id,
                channel="email",
                template=template,
                category="transactional",
                journey_kind="redemption_approval",
                context=context,
            ),
            at_workflow_time=False,
        )

    async def _settle(self, outcome: str, by: str, reason: str | None = None) -> str:
        settled = await workflow.execute_activity_method(
            ApprovalActivities.settle,
            SettleInput(redemption_id=self._input.redemption_id, outcome=outcome, by=by, reason=reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return settled.status

    @workflow.run
    async def run(self, inp: ApprovalInput) -> ApprovalOutcome:
        self._input = inp
        self._opened = await workflow.execute_activity_method(
            ApprovalActivities.open,
            OpenInput(redemption_id=inp.redemption_id, now=workflow.now()),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        opened = self._opened
        self._status = "pending"
        self._enter("awaiting_decision")
        await workflow.execute_activity_method(
            ApprovalActivities.notify_staff,
            StaffNotice(
                redemption_id=inp.redemption_id,
                kind="approval_request",
                points=opened.points,
                reward_name=opened.reward_name,
            ),
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=SEND_RETRY,
        )
        await self._tell_member("redemption_pending")
        decided = await self._wait_until(opened.escalate_at)
        if not decided:
            self._escalated = True
            self._enter("escalated")
            await workflow.execute_activity_method(
                ApprovalActivities.escalate,
                inp.redemption_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            await workflow.execute_activity_method(
                ApprovalActivities.notify_staff,
                StaffNotice(
                    redemption_id=inp.redemption_id,
                    kind="escalation",
                    points=opened.points,
                    reward_name=opened.reward_name,
                ),
                start_to_close_timeout=SEND_TIMEOUT,
                retry_policy=SEND_RETRY,
            )
            decided = await self._wait_until(opened.expires_at)
        if not decided:
            self._status = await self._settle("expired", "memberflow", "no decision in time")
            self._settled = self._status
            self._enter("expired")
            await self._tell_member("redemption_expired", "no decision in time")
            return ApprovalOutcome(status=self._status, decided_by=None)
        return await self._carry_out()

    async def _wait_until(self, moment: datetime) -> bool:
        remaining = (moment - workflow.now()).total_seconds()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=timedelta(seconds=max(remaining, 0.001))
            )
        return self._decision is not None

    async def _carry_out(self) -> ApprovalOutcome:
        decision = self._decision
        assert decision is not None
        assert self._opened is not None
        if isinstance(decision, CancelRequest):
            self._status = await self._settle("cancelled", "member", decision.reason)
            self._settled = self._status
            self._enter("cancelled")
            return ApprovalOutcome(status=self._status, decided_by="member")
        if decision.action == "reject":
            self._status = await self._settle("rejected", decision.approver, decision.reason)
            self._settled = self._status
            self._enter("rejected")
            await self._tell_member("redemption_rejected", decision.reason)
            return ApprovalOutcome(status=self._status, decided_by=decision.approver)
        outcome = await self._settle("approved", decision.approver)
        if outcome == "out_of_stock":
            self._status = "rejected"
            self._settled = self._status
            self._enter("out_of_stock")
            await self._tell_member("redemption_rejected", "the reward is out of stock")
            return ApprovalOutcome(status="out_of_stock", decided_by=decision.approver)
        self._status = "fulfilling"
        self._settled = self._status
        self._enter("fulfilling")
        await workflow.execute_activity_method(
            ApprovalActivities.notify_warehouse,
            WarehouseNotice(
                redemption_id=self._input.redemption_id,
                reward_name=self._opened.reward_name,
                member_id=self._opened.member_id,
            ),
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=SEND_RETRY,
        )
        await self._tell_member("redemption_approved")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._tracking is not None, timeout=SHIPPING_WAIT)
        if self._tracking is None:
            return ApprovalOutcome(status=self._status, decided_by=decision.approver)
        shipped = await workflow.execute_activity_method(
            ApprovalActivities.shipped,
            ShippedInput(redemption_id=self._input.redemption_id, tracking_number=self._tracking),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._status = shipped.status
        self._enter("fulfilled")
        await self._tell_member("redemption_shipped")
        return ApprovalOutcome(status=self._status, decided_by=decision.approver)
