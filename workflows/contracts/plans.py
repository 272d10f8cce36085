"""The PlanTerm workflow's contract: one paid membership's term, from its first monthly coupon to its expiry.
Ids and times only: the membership's id in, and a status of dates and counts out. What the workflow decides on
(the end date, the status) is read from PostgreSQL by its activities, so a renewal or a cancellation only has
to nudge it (`membership_changed_signal`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import JOURNEY_KIND, MEMBER_ID, PLAN_TERM_WORKFLOW, Id
from workflows.contracts.signals import WorkflowSignal
from workflows.contracts.starts import WorkflowStart, search_attributes

MEMBERSHIP_CHANGED_SIGNAL = "membership_changed"
PLAN_JOURNEY_KIND = "paid_plan"  # the JourneyKind its runs carry, and its messages' journey_kind
RENEWAL_REMINDER_TEMPLATE = "plan_renewal_reminder"
REMINDER_DAYS_BEFORE_END = 7


def plan_term_workflow_id(membership_id: Id) -> str:
    return f"plan-{membership_id}"


class PlanTermInput(BaseModel):
    membership_id: str
    # Carried over by continue-as-new (a membership renewed for years): the months whose coupon was handled,
    # and the end date the renewal reminder was sent for.
    months_handled: int = 0
    reminded_for: datetime | None = None


class PlanTermStatus(BaseModel):
    membership_id: str
    # starting (before the first activity), active, ended, cancelled
    status: str
    ends_at: datetime | None = None
    coupons_granted: int = 0
    reminders_sent: int = 0


def plan_term_start(inp: PlanTermInput, *, member_id: Id, task_queue: str) -> WorkflowStart:
    """One term workflow per membership, ever: a renewal moves the end date of the one running."""
    return WorkflowStart(
        workflow=PLAN_TERM_WORKFLOW,
        id=plan_term_workflow_id(inp.membership_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, str(member_id)), (JOURNEY_KIND, PLAN_JOURNEY_KIND)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def membership_changed_signal(membership_id: Id) -> WorkflowSignal:
    """The membership's row changed (renewed, cancelled): the workflow reads it again."""
    return WorkflowSignal(plan_term_workflow_id(membership_id), MEMBERSHIP_CHANGED_SIGNAL)
