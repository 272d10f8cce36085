"""The member journey workflow: one interpreter runs any journey definition for one member.

The definition is loaded once, by the first activity, so the run keeps the version it started with even
when marketers publish a new one. Events reach the run as `member_event` signals; an event listed in the
definition's `exit_on` ends the run at the next step, or at once while it waits. The current step is kept
in the `JourneyStep` search attribute (for the Temporal UI) and in the `journey_runs` table (for the API)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journeys import (
        CouponInput,
        EvaluateInput,
        GrantInput,
        JourneyActivities,
        LoadInput,
        LocalTimeInput,
        MemberFactsInput,
        ProgressInput,
        TagInput,
        TaskInput,
    )
    from activities.messaging import SendMessageInput
    from services.definitions import Duration
    from services.journeys.definition import (
        BranchStep,
        CreateTaskStep,
        Definition,
        ExitStep,
        FlagStep,
        GrantPointsStep,
        IssueCouponStep,
        SendStep,
        TagStep,
        WaitForStep,
        WaitStep,
        successors,
    )
    from workflows.contracts import (
        JOURNEY_STEP,
        JOURNEY_WORKFLOW,
        MEMBER_EVENT_SIGNAL,
        STATUS_QUERY,
        JourneyInput,
        JourneyOutcome,
        JourneyStatus,
        MemberEventSignal,
    )

from workflows.common import ACTIVITY_RETRY, send_message
from workflows.common import ACTIVITY_TIMEOUT as SHORT  # the name the step code uses

INTERPRETER_PATCH = "journey-interpreter-v1"
FIRST_PURCHASE_WAIT = timedelta(days=7)  # the first release's welcome skeleton, kept for its running histories


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyWorkflow:
    def __init__(self) -> None:
        self._input: JourneyInput | None = None
        self._version: int | None = None
        self._step = "start"
        self._steps: list[str] = []
        self._events: list[str] = []
        self._exit_on: frozenset[str] = frozenset()
        self._messages: list[str] = []
        # Events up to this index were consumed by an earlier wait_for.
        self._seen = 0

    @workflow.signal(name=MEMBER_EVENT_SIGNAL)
    def member_event(self, event: MemberEventSignal) -> None:
        self._events.append(event.type)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> JourneyStatus:
        assert self._input is not None
        return JourneyStatus(
            member_id=self._input.member_id,
            kind=self._input.kind,
            version=self._version,
            step=self._step,
            steps=list(self._steps),
            events=list(self._events),
        )

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyOutcome:
        self._input = inp
        if not workflow.patched(INTERPRETER_PATCH):
            return await self._welcome_skeleton(inp)
        loaded = await workflow.execute_activity_method(
            JourneyActivities.load_definition,
            LoadInput(kind=inp.kind, version=inp.version),
            start_to_close_timeout=SHORT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._version = loaded.version
        definition = Definition.model_validate(loaded.definition)
        self._exit_on = frozenset(definition.exit_on)
        try:
            result = await self._interpret(definition)
        except asyncio.CancelledError:
            await self._record("cancelled", "cancelled")
            raise
        await self._record(self._step, result)
        return JourneyOutcome(result=result, steps=list(self._steps), messages=list(self._messages))

    # --- interpretation ----------------------------------------------------------------------------------

    async def _interpret(self, definition: Definition) -> str:
        steps = {step.id: step for step in definition.steps}
        graph = successors(definition)
        current: str | None = definition.steps[0].id
        last_wait: str | None = None
        while current is not None:
            if self._exit_seen():
                return "exited"
            step = steps[current]
            await self._enter(step.id)
            following = dict(graph[step.id])
            match step:
                case ExitStep():
                    return "completed"
                case SendStep():
                    if not await self._send(step):
                        return "exited"
                case WaitStep(wait=wait):
                    if not await self._wait(wait, wait.until_local_time):
                        return "exited"
                case WaitForStep():
                    outcome = await self._wait_for(step)
                    if outcome is None:
                        return "exited"
                    last_wait = outcome
                    current = following.get("on_event" if outcome == "event" else "on_timeout")
                    continue
                case BranchStep(branch=branch):
                    verdict = await workflow.execute_activity_method(
                        JourneyActivities.evaluate,
                        EvaluateInput(
                            member_id=self._member,
                            condition=branch.if_.model_dump(by_alias=True, exclude_none=True),
                            last_wait=last_wait,
                        ),
                        start_to_close_timeout=SHORT,
                        retry_policy=ACTIVITY_RETRY,
                    )
                    current = following["branch.then" if verdict.result else "branch.else"]
                    continue
                case GrantPointsStep() | IssueCouponStep() | CreateTaskStep() | TagStep() | FlagStep():
                    await self._act(step)
                case _:
                    raise ApplicationError(f"step {step.id!r} has no action this version can run", non_retryable=True)
            current = following.get("next")
        return "completed"

    @property
    def _member(self) -> str:
        assert self._input is not None
        return self._input.member_id

    def _key(self, step_id: str) -> str:
        info = workflow.info()
        return f"{info.workflow_id}:{info.run_id}:{step_id}"

    def _exit_seen(self) -> bool:
        return any(event in self._exit_on for event in self._events)

    async def _enter(self, step_id: str) -> None:
        self._step = step_id
        self._steps.append(step_id)
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set(step_id)])
        await self._record(step_id, "running")

    async def _record(self, step: str, status: str) -> None:
        assert self._input is not None
        info = workflow.info()
        await workflow.execute_local_activity_method(
            JourneyActivities.record,
            ProgressInput(
                run_id=info.run_id,
                workflow_id=info.workflow_id,
                member_id=self._input.member_id,
                kind=self._input.kind,
                version=self._version or 0,
                campaign_id=self._input.campaign_id,
                step=step,
                status=status,
                at=workflow.now(),
            ),
            start_to_close_timeout=SHORT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless an exit event comes first; False when it did."""
        if seconds <= 0:
            return not self._exit_seen()
        try:
            await workflow.wait_condition(self._exit_seen, timeout=timedelta(seconds=seconds))
        except TimeoutError:
            return True
        return False

    async def _wait(self, duration: Duration, until_local_time: str | None) -> bool:
        if not await self._pause(duration.seconds):
            return False
        if until_local_time is None:
            return True
        delay = await workflow.execute_activity_method(
            JourneyActivities.until_local_time,
            LocalTimeInput(member_id=self._member, local_time=until_local_time, now=workflow.now()),
            start_to_close_timeout=SHORT,
            retry_policy=ACTIVITY_RETRY,
        )
        return await self._pause(delay.seconds)

    async def _wait_for(self, step: WaitForStep) -> str | None:
        """'event' if the event happened since the previous wait_for (or the start), 'timeout' otherwise;
        None if an exit event ended the run."""
        wanted = step.wait_for.event

        def happened() -> bool:
            return wanted in self._events[self._seen :] or self._exit_seen()

        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(happened, timeout=timedelta(seconds=step.wait_for.seconds))
        got = wanted in self._events[self._seen :]
        self._seen = len(self._events)
        if self._exit_seen():
            return None
        return "event" if got else "timeout"

    async def _send(self, step: SendStep) -> bool:
        assert self._input is not None
        coupon_code = None
        if step.send.coupon:
            coupon = await workflow.execute_activity_method(
                JourneyActivities.issue_coupon,
                CouponInput(member_id=self._member, template=step.send.coupon, issue_key=self._key(step.id)),
                start_to_close_timeout=SHORT,
                retry_policy=ACTIVITY_RETRY,
            )
            coupon_code = coupon.code
        message = SendMessageInput(
            message_key=self._key(step.id),
            member_id=self._member,
            channel=step.send.channel,
            template=step.send.template,
            category=step.send.category,
            journey_kind=self._input.kind,
            campaign_id=self._input.campaign_id,
            coupon_code=coupon_code,
        )
        # Quiet hours: it waits for the member's window to open, unless an exit event comes first.
        result = await send_message(message, interrupted=self._exit_seen)
        if result is None:
            return False
        self._messages.append(f"{step.id}:{result.status}")
        return True

    async def _act(self, step: GrantPointsStep | IssueCouponStep | CreateTaskStep | TagStep | FlagStep) -> None:
        options: dict[str, Any] = {"start_to_close_timeout": SHORT, "retry_policy": ACTIVITY_RETRY}
        match step:
            case GrantPointsStep(grant_points=grant):
                await workflow.execute_activity_method(
                    JourneyActivities.grant_points,
                    GrantInput(
                        member_id=self._member,
                        points=grant.points,
                        reason=grant.reason,
                        key=self._key(step.id),
                        reference=f"{self._input.kind if self._input else ''}:{step.id}",
                    ),
                    **options,
                )
            case IssueCouponStep(issue_coupon=issue):
                await workflow.execute_activity_method(
                    JourneyActivities.issue_coupon,
                    CouponInput(member_id=self._member, template=issue.template, issue_key=self._key(step.id)),
                    **options,
                )
            case CreateTaskStep(create_task=task):
                await workflow.execute_activity_method(
                    JourneyActivities.create_task,
                    TaskInput(
                        member_id=self._member,
                        title=task.title,
                        assignee_role=task.assignee_role,
                        due_days=task.due_days,
                        key=self._key(step.id),
                    ),
                    **options,
                )
            case TagStep(tag=tag):
                await workflow.execute_activity_method(
                    JourneyActivities.tag,
                    TagInput(member_id=self._member, add=list(tag.add), remove=list(tag.remove)),
                    **options,
                )
            case FlagStep(flag=flag):
                add = [flag.set] if flag.set else []
                remove = [flag.clear] if flag.clear else []
                await workflow.execute_activity_method(
                    JourneyActivities.tag, TagInput(member_id=self._member, add=add, remove=remove), **options
                )

    # --- the first release's welcome skeleton, for histories started before the interpreter ----------------

    async def _welcome_skeleton(self, inp: JourneyInput) -> JourneyOutcome:
        self._steps.append("check_member")
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set("check_member")])
        facts = await workflow.execute_activity_method(
            JourneyActivities.member_facts,
            MemberFactsInput(member_id=inp.member_id),
            start_to_close_timeout=SHORT,
            retry_policy=ACTIVITY_RETRY,
        )
        result = "converted"
        if not facts.exists:
            result = "member_missing"
        elif facts.order_count == 0:
            self._steps.append("wait_first_purchase")
            workflow.upsert_search_attributes([JOURNEY_STEP.value_set("wait_first_purchase")])
            try:
                await workflow.wait_condition(lambda: "order_completed" in self._events, timeout=FIRST_PURCHASE_WAIT)
            except TimeoutError:
                result = "timed_out"
        self._steps.append("done")
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set("done")])
        return JourneyOutcome(result=result, steps=list(self._steps))
