"""The CheckoutHold workflow's contract: its input, the signal that tells it the checkout was settled, its
status and its start. Ids, statuses and times only: amounts and members stay in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import CHECKOUT_HOLD_WORKFLOW, JOURNEY_KIND, MEMBER_ID, Id
from workflows.contracts.signals import WorkflowSignal
from workflows.contracts.starts import WorkflowStart, search_attributes

CHECKOUT_SETTLED_SIGNAL = "settled"
CHECKOUT_JOURNEY_KIND = "checkout"


def checkout_workflow_id(checkout_id: Id) -> str:
    return f"checkout-{checkout_id}"


class CheckoutInput(BaseModel):
    checkout_id: str
    # When the hold times out: the workflow's durable timer fires then and releases what is still held.
    expires_at: datetime


class CheckoutSettled(BaseModel):
    """The checkout was captured or released through the API: nothing is left for the timer to do."""

    status: str


class CheckoutStatus(BaseModel):
    checkout_id: str
    # waiting (the timer runs), captured, released, expired (the timer released it)
    status: str


class CheckoutOutcome(BaseModel):
    status: str


def checkout_hold_start(inp: CheckoutInput, *, member_id: Id, task_queue: str) -> WorkflowStart:
    """A checkout's timer: once per checkout."""
    return WorkflowStart(
        workflow=CHECKOUT_HOLD_WORKFLOW,
        id=checkout_workflow_id(inp.checkout_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, str(member_id)), (JOURNEY_KIND, CHECKOUT_JOURNEY_KIND)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def checkout_settled_signal(checkout_id: Id, status: str) -> WorkflowSignal:
    return WorkflowSignal(checkout_workflow_id(checkout_id), CHECKOUT_SETTLED_SIGNAL, CheckoutSettled(status=status))
