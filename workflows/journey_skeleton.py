"""The first release's welcome journey, before the interpreter: kept only so its running histories replay
(`JourneyWorkflow` runs it when the history has no interpreter patch). Deterministic: only `workflow.*` calls."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.journeys import JourneyActivities, MemberFactsInput
    from workflows.contracts import JOURNEY_STEP, JourneyInput, JourneyOutcome

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT

FIRST_PURCHASE_WAIT = timedelta(days=7)


async def welcome_skeleton(inp: JourneyInput, steps: list[str], events: list[str]) -> JourneyOutcome:
    """Check the member, wait up to 7 days for a first order unless they have one; `steps` and `events` are the
    run's own lists (the status query reads them, signals append to `events`)."""
    steps.append("check_member")
    workflow.upsert_search_attributes([JOURNEY_STEP.value_set("check_member")])
    facts = await workflow.execute_activity_method(
        JourneyActivities.member_facts,
        MemberFactsInput(member_id=inp.member_id),
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
    )
    result = "converted"
    if not facts.exists:
        result = "member_missing"
    elif facts.order_count == 0:
        steps.append("wait_first_purchase")
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set("wait_first_purchase")])
        try:
            await workflow.wait_condition(lambda: "order_completed" in events, timeout=FIRST_PURCHASE_WAIT)
        except TimeoutError:
            result = "timed_out"
    steps.append("done")
    workflow.upsert_search_attributes([JOURNEY_STEP.value_set("done")])
    return JourneyOutcome(result=result, steps=list(steps))
