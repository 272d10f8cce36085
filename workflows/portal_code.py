"""Send one portal sign-in code, once: the workflow id is the request's (`portal-code-{request id}`) and so is
the message key, so neither a redelivered outbox row nor an activity retry sends a second code. The input and
history hold ids only; the send activity derives the code from the request id."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.messaging import SendMessageInput
    from workflows.contracts import (
        PORTAL_SIGN_IN_CODE_WORKFLOW,
        STATUS_QUERY,
        PortalCodeInput,
        PortalCodeOutcome,
        PortalCodeStatus,
    )

from workflows.common import send_message

SIGN_IN_TEMPLATE = "portal_sign_in_code"


@workflow.defn(name=PORTAL_SIGN_IN_CODE_WORKFLOW)
class PortalSignInCodeWorkflow:
    def __init__(self) -> None:
        self._status = PortalCodeStatus(state="sending")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> PortalCodeStatus:
        return self._status

    @workflow.run
    async def run(self, inp: PortalCodeInput) -> PortalCodeOutcome:
        message = SendMessageInput(
            message_key=workflow.info().workflow_id,
            member_id=inp.member_id,
            channel=inp.channel,
            template=SIGN_IN_TEMPLATE,
            category="transactional",
            sign_in_request_id=inp.request_id,
        )
        # Transactional: never deferred by quiet hours, so this returns the send's result.
        result = await send_message(message)
        outcome = result.status if result is not None else "interrupted"
        self._status = PortalCodeStatus(state="done", result=outcome)
        return PortalCodeOutcome(result=outcome)
