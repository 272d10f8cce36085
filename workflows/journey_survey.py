"""The journey's `send_survey` step: record the survey's send and queue its invitation (the SurveyInviteWorkflow
sends it, with the signed link), through one activity idempotent by the step's key.

No patch guards it: it is a new kind of step, so no history from before it reaches this code, and every saved
history replays unchanged (tests/workflows/test_replay.py); journey_send_survey.json replays a run that takes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.surveys import SendSurveyInput, SurveyActivities, SurveySent
    from services.journeys.definition import SendSurveyStep
    from workflows.contracts import JourneyInput


async def send_survey(
    step: SendSurveyStep, inp: JourneyInput, step_key: str, run: Callable[[Any, Any], Awaitable[Any]]
) -> str:
    """`sent` or `skipped` (an unknown or inactive survey, an erased member: the run goes on). A campaign's run
    records the send under the campaign, any other under the journey step."""
    result: SurveySent = await run(
        SurveyActivities.send_survey,
        SendSurveyInput(
            member_id=inp.member_id,
            survey=step.send_survey.survey,
            channel=step.send_survey.channel,
            source="campaign" if inp.campaign_id else "journey",
            source_id=inp.campaign_id or step_key,
            task_queue=workflow.info().task_queue,
        ),
    )
    return result.status
