"""The member journey workflow: one run per member and journey kind.

This first version carries the welcome journey's skeleton (wait for a first purchase, at most 7 days);
the journeys slice turns it into an interpreter of versioned journey definitions."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journeys import JourneyActivities, MemberFactsInput
    from core.temporal import JOURNEY_STEP

KNOWN_KINDS = frozenset({"welcome"})
FIRST_PURCHASE_WAIT = timedelta(days=7)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class JourneyInput(BaseModel):
    member_id: str
    kind: str
    campaign_id: str | None = None


class MemberEventSignal(BaseModel):
    type: str


class JourneyStatus(BaseModel):
    member_id: str
    kind: str
    step: str
    steps: list[str]
    events: list[str]


class JourneyOutcome(BaseModel):
    # converted: the member did what the journey waited for; timed_out: they did not in time;
    # member_missing: no such member (deleted or never committed).
    result: str
    steps: list[str]


@workflow.defn
class JourneyWorkflow:
    def __init__(self) -> None:
        self._input: JourneyInput | None = None
        self._step = "start"
        self._steps: list[str] = []
        self._events: list[str] = []

    @workflow.signal(name="member_event")
    def member_event(self, event: MemberEventSignal) -> None:
        self._events.append(event.type)

    @workflow.query(name="status")
    def status(self) -> JourneyStatus:
        assert self._input is not None
        return JourneyStatus(
            member_id=self._input.member_id,
            kind=self._input.kind,
            step=self._step,
            steps=list(self._steps),
            events=list(self._events),
        )

    def _enter(self, step: str) -> None:
        self._step = step
        self._steps.append(step)
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set(step)])

    def _finish(self, result: str) -> JourneyOutcome:
        self._enter("done")
        return JourneyOutcome(result=result, steps=list(self._steps))

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyOutcome:
        self._input = inp
        if inp.kind not in KNOWN_KINDS:
            raise ApplicationError(f"unknown journey kind {inp.kind!r}", type="UnknownJourney", non_retryable=True)
        self._enter("check_member")
        facts = await workflow.execute_activity_method(
            JourneyActivities.member_facts,
            MemberFactsInput(member_id=inp.member_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )
        if not facts.exists:
            return self._finish("member_missing")
        if facts.order_count > 0:
            return self._finish("converted")
        self._enter("wait_first_purchase")
        try:
            await workflow.wait_condition(lambda: "order_completed" in self._events, timeout=FIRST_PURCHASE_WAIT)
        except TimeoutError:
            return self._finish("timed_out")
        return self._finish("converted")
