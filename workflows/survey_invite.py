"""Send one survey invitation, once: the workflow id is the send's (`survey-send-{send id}`) and so is the message
key, so neither a redelivered outbox row nor an activity retry asks the member twice. The input and history hold
ids only; the send activity signs the answer link from the send's id."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.messaging import SendMessageInput
    from workflows.contracts import (
        STATUS_QUERY,
        SURVEY_INVITE_WORKFLOW,
        SURVEY_SEND_CONTEXT,
        SurveyInviteInput,
        SurveyInviteOutcome,
        SurveyInviteStatus,
    )

from workflows.common import send_message

SURVEY_TEMPLATE = "survey_invite"


@workflow.defn(name=SURVEY_INVITE_WORKFLOW)
class SurveyInviteWorkflow:
    def __init__(self) -> None:
        self._status = SurveyInviteStatus(state="sending")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> SurveyInviteStatus:
        return self._status

    @workflow.run
    async def run(self, inp: SurveyInviteInput) -> SurveyInviteOutcome:
        message = SendMessageInput(
            message_key=workflow.info().workflow_id,
            member_id=inp.member_id,
            channel=inp.channel,
            template=SURVEY_TEMPLATE,
            category="transactional",
            context={SURVEY_SEND_CONTEXT: inp.send_id},
        )
        # Transactional: never deferred by quiet hours, so this returns the send's result.
        result = await send_message(message)
        outcome = result.status if result is not None else "interrupted"
        self._status = SurveyInviteStatus(state="done", result=outcome)
        return SurveyInviteOutcome(result=outcome)
