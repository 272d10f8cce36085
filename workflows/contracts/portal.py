"""The portal's contract: the workflow that sends one sign-in code. Ids only: the request id, the member id and
the channel; the code itself is derived by the send activity and never enters the history."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import MEMBER_ID, PORTAL_SIGN_IN_CODE_WORKFLOW, Id
from workflows.contracts.starts import WorkflowStart, search_attributes


def portal_code_workflow_id(request_id: Id) -> str:
    return f"portal-code-{request_id}"


class PortalCodeInput(BaseModel):
    request_id: str
    member_id: str
    channel: Literal["email", "sms"]


class PortalCodeStatus(BaseModel):
    state: str  # sending, done
    result: str | None = None  # the message's status: sent, delivered, suppressed, failed


class PortalCodeOutcome(BaseModel):
    result: str


def portal_code_start(inp: PortalCodeInput, *, task_queue: str) -> WorkflowStart:
    """One send per sign-in request, even after the run ended."""
    return WorkflowStart(
        workflow=PORTAL_SIGN_IN_CODE_WORKFLOW,
        id=portal_code_workflow_id(inp.request_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, inp.member_id)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
