"""The referrals' contract: one `Referral` workflow per referee (`referral-{referee id}`), started when their
first order completes, that waits the return window on a durable timer and then rewards both members, unless a
refund of that order (the `order_refunded` signal) came first. Ids only: referral, referee, order, refund."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import MEMBER_ID, REFERRAL_WORKFLOW, Id
from workflows.contracts.signals import WorkflowSignal
from workflows.contracts.starts import WorkflowStart, search_attributes

REFERRAL_REFUND_SIGNAL = "order_refunded"


def referral_workflow_id(referee_id: Id) -> str:
    return f"referral-{referee_id}"


class ReferralInput(BaseModel):
    referral_id: str
    referee_id: str
    order_id: str
    window_days: int = Field(ge=0, le=365)


class ReferralRefund(BaseModel):
    refund_id: str


class ReferralStatus(BaseModel):
    state: Literal["waiting", "deciding", "rewarded", "cancelled"]
    refund_id: str | None = None


class ReferralOutcome(BaseModel):
    result: str  # rewarded, cancelled (and for an activity that found it settled: what it was)


def referral_start(inp: ReferralInput, *, task_queue: str) -> WorkflowStart:
    """Once per referee, even after the run ended: a second first order (a replayed outbox row) finds it."""
    return WorkflowStart(
        workflow=REFERRAL_WORKFLOW,
        id=referral_workflow_id(inp.referee_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, inp.referee_id)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def referral_refund_signal(referee_id: Id, refund_id: Id) -> WorkflowSignal:
    refund = ReferralRefund(refund_id=str(refund_id))
    return WorkflowSignal(referral_workflow_id(referee_id), REFERRAL_REFUND_SIGNAL, refund)
