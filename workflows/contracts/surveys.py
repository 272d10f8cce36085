"""The surveys' contract: the workflow that sends one survey invitation. Ids only: the send's id, the member's
id and the channel; the signed answer link is derived by the send activity and never enters the history."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from temporalio.common import WorkflowIDReusePolicy

from workflows.contracts.names import MEMBER_ID, SURVEY_INVITE_WORKFLOW, Id
from workflows.contracts.starts import WorkflowStart, search_attributes

# The invitation's context variable naming its send (an id): messaging signs `{{ survey_link }}` from it.
SURVEY_SEND_CONTEXT = "survey_send_id"


def survey_invite_workflow_id(send_id: Id) -> str:
    return f"survey-send-{send_id}"


class SurveyInviteInput(BaseModel):
    send_id: str
    member_id: str
    channel: Literal["email", "sms"]


class SurveyInviteStatus(BaseModel):
    state: str  # sending, done
    result: str | None = None  # the message's status: sent, delivered, suppressed, failed


class SurveyInviteOutcome(BaseModel):
    result: str


def survey_invite_start(inp: SurveyInviteInput, *, task_queue: str) -> WorkflowStart:
    """One invitation per send, even after the run ended."""
    return WorkflowStart(
        workflow=SURVEY_INVITE_WORKFLOW,
        id=survey_invite_workflow_id(inp.send_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, inp.member_id)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
