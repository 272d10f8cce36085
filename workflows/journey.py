"""The member journey workflow: one interpreter runs any journey definition for one member.

The definition is loaded once, by the first activity, so the run keeps the version it started with even
when marketers publish a new one. Events reach the run as `member_event` signals; an event listed in the
definition's `exit_on` ends the run at the next step, or at once while it waits, but only from the step named
by `exit_from` on (before it the event is kept, so a purchase right after sign-up never cancels the welcome).
The current step is kept in the `JourneyStep` search attribute (for the Temporal UI) and in the `journey_runs`
table (for the API).

Since LEAN_PATCH a run costs Temporal less: one local activity loads the definition and records the first step;
the step's own database work (coupons, points, tags, tasks, branch verdicts, local time) runs as local
activities, idempotent by the step's key; and the step is shown and recorded once per wait, not once per step:
steps passed through between two waits are written together, just before the run waits (a send, a timer, an
event), and the search attribute is upserted only when the step it shows changes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journeys import (
        BeginInput,
        CouponInput,
        EvaluateInput,
        GrantInput,
        JourneyActivities,
        LoadInput,
        LocalTimeInput,
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
        SendSurveyStep,
        TagStep,
        WaitForStep,
        WaitStep,
        successors,
    )
    from workflows.contracts import (
        JOURNEY_STEP,
        JOURNEY_WORKFLOW,
        MEMBER_EVENT_SIGNAL,
        START_STEP,
        STATUS_QUERY,
        JourneyInput,
        JourneyOutcome,
        JourneyStatus,
        MemberEventSignal,
    )

from workflows.common import ACTIVITY_RETRY, send_message
from workflows.common import ACTIVITY_TIMEOUT as SHORT  # the name the step code uses
from workflows.journey_skeleton import welcome_skeleton
from workflows.journey_survey import send_survey

INTERPRETER_PATCH = "journey-interpreter-v1"
# One local activity to begin, local activities for the steps' own work, progress written once per wait.
LEAN_PATCH = "journey-lean-v1"


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyWorkflow:
    def __init__(self) -> None:
        self._input: JourneyInput | None = None
        self._version: int | None = None
        self._step = "start"
        self._steps: list[str] = []
        self._events: list[str] = []
        self._exit_on: frozenset[str] = frozenset()
        # Exit events count once the run reaches this step (None: from the start).
        self._exit_from: str | None = None
        self._exit_armed = True
        self._messages: list[str] = []
        self._lean = False
        # Lean runs: the step the JourneyStep search attribute shows, and steps entered but not yet recorded.
        self._shown = START_STEP
        self._unrecorded: list[str] = []
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
        # A lean run is an interpreter run, so it asks for one patch marker only (each costs two history events);
        # histories from before LEAN_PATCH answer the interpreter's, and the first release's neither.
        self._lean = workflow.patched(LEAN_PATCH)
        if not self._lean and not workflow.patched(INTERPRETER_PATCH):
            return await welcome_skeleton(inp, self._steps, self._events)
        definition = await self._load(inp)
        self._exit_on = frozenset(definition.exit_on)
        self._exit_from = definition.exit_from
        self._exit_armed = definition.exit_from is None
        try:
            result = await self._interpret(definition)
        except asyncio.CancelledError:
            await self._finish("cancelled", "cancelled")
            raise
        await self._finish(self._step, result)
        return JourneyOutcome(result=result, steps=list(self._steps), messages=list(self._messages))

    async def _load(self, inp: JourneyInput) -> Definition:
        """The run's definition. Lean runs load it and record their first step in one local activity."""
        if self._lean:
            info = workflow.info()
            loaded = await workflow.execute_local_activity_method(
                JourneyActivities.begin,
                BeginInput(
                    kind=inp.kind,
                    version=inp.version,
                    run_id=info.run_id,
                    workflow_id=info.workflow_id,
                    member_id=inp.member_id,
                    campaign_id=inp.campaign_id,
                    at=workflow.now(),
                ),
                start_to_close_timeout=SHORT,
                retry_policy=ACTIVITY_RETRY,
            )
        else:
            loaded = await workflow.execute_activity_method(
                JourneyActivities.load_definition,
                LoadInput(kind=inp.kind, version=inp.version),
                start_to_close_timeout=SHORT,
                retry_policy=ACTIVITY_RETRY,
            )
        self._version = loaded.version
        definition = Definition.model_validate(loaded.definition)
        self._step = definition.steps[0].id if self._lean else self._step  # begin recorded it
        return definition

    # --- interpretation ----------------------------------------------------------------------------------

    async def _interpret(self, definition: Definition) -> str:
        steps = {step.id: step for step in definition.steps}
        graph = successors(definition)
        current: str | None = definition.steps[0].id
        last_wait: str | None = None
        while current is not None:
            if current == self._exit_from:
                self._exit_armed = True
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
                    verdict = await self._activity(
                        JourneyActivities.evaluate,
                        EvaluateInput(
                            member_id=self._member,
                            condition=branch.if_.model_dump(by_alias=True, exclude_none=True),
                            last_wait=last_wait,
                        ),
                    )
                    current = following["branch.then" if verdict.result else "branch.else"]
                    continue
                case GrantPointsStep() | IssueCouponStep() | CreateTaskStep() | TagStep() | FlagStep():
                    await self._act(step)
                case SendSurveyStep():
                    assert self._input is not None
                    status = await send_survey(step, self._input, self._key(step.id), self._activity)
                    self._messages.append(f"{step.id}:survey_{status}")
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
        return self._exit_armed and any(event in self._exit_on for event in self._events)

    async def _activity(self, method: Any, arg: Any) -> Any:
        """One of the steps' own activities: local in lean runs (no task round trip, one marker in the history;
        each is idempotent by the step's key, so the worker's retries are safe), regular before."""
        options: dict[str, Any] = {"start_to_close_timeout": SHORT, "retry_policy": ACTIVITY_RETRY}
        if self._lean:
            return await workflow.execute_local_activity_method(method, arg, **options)
        return await workflow.execute_activity_method(method, arg, **options)

    async def _enter(self, step_id: str) -> None:
        if self._lean and step_id == self._step and not self._steps:
            self._steps.append(step_id)  # the first step: begin recorded it
            return
        self._step = step_id
        self._steps.append(step_id)
        if self._lean:
            self._unrecorded.append(step_id)
            return
        workflow.upsert_search_attributes([JOURNEY_STEP.value_set(step_id)])
        await self._record(step_id, "running")

    def _show(self) -> None:
        if self._step != self._shown:
            workflow.upsert_search_attributes([JOURNEY_STEP.value_set(self._step)])
            self._shown = self._step

    async def _flush(self) -> None:
        """Lean runs, before they wait: show the current step and record the steps entered since the last wait."""
        if not self._lean:
            return
        self._show()
        if self._unrecorded:
            *passed, step = self._unrecorded
            self._unrecorded = []
            await self._record(step, "running", passed)

    async def _finish(self, step: str, status: str) -> None:
        """The run's last record, with (in lean runs) the steps it passed through since it last waited."""
        passed = self._unrecorded
        self._unrecorded = []
        if passed and passed[-1] == step:
            passed = passed[:-1]
        if self._lean and step != "cancelled":
            self._show()
        await self._record(step, status, passed)

    async def _record(self, step: str, status: str, passed: list[str] | None = None) -> None:
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
                passed=passed or [],
            ),
            start_to_close_timeout=SHORT,
            retry_policy=ACTIVITY_RETRY,
        )

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless an exit event comes first; False when it did."""
        await self._flush()
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
        delay = await self._activity(
            JourneyActivities.until_local_time,
            LocalTimeInput(member_id=self._member, local_time=until_local_time, now=workflow.now()),
        )
        return await self._pause(delay.seconds)

    async def _wait_for(self, step: WaitForStep) -> str | None:
        """'event' if the event happened since the previous wait_for (or the start), 'timeout' otherwise;
        None if an exit event ended the run."""
        wanted = step.wait_for.event

        def happened() -> bool:
            return wanted in self._events[self._seen :] or self._exit_seen()

        await self._flush()
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
            coupon = await self._activity(
                JourneyActivities.issue_coupon,
                CouponInput(member_id=self._member, template=step.send.coupon, issue_key=self._key(step.id)),
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
            # What fired the run (a reminder's expiry date), never personal; none in older runs: they replay as before.
            context=dict(self._input.trigger_facts),
        )
        # Quiet hours: it waits for the member's window to open, unless an exit event comes first.
        await self._flush()
        result = await send_message(message, interrupted=self._exit_seen)
        if result is None:
            return False
        self._messages.append(f"{step.id}:{result.status}")
        return True

    async def _act(self, step: GrantPointsStep | IssueCouponStep | CreateTaskStep | TagStep | FlagStep) -> None:
        match step:
            case GrantPointsStep(grant_points=grant):
                await self._activity(
                    JourneyActivities.grant_points,
                    GrantInput(
                        member_id=self._member,
                        points=grant.points,
                        reason=grant.reason,
                        key=self._key(step.id),
                        reference=f"{self._input.kind if self._input else ''}:{step.id}",
                    ),
                )
            case IssueCouponStep(issue_coupon=issue):
                await self._activity(
                    JourneyActivities.issue_coupon,
                    CouponInput(member_id=self._member, template=issue.template, issue_key=self._key(step.id)),
                )
            case CreateTaskStep(create_task=task):
                await self._activity(
                    JourneyActivities.create_task,
                    TaskInput(
                        member_id=self._member,
                        title=task.title,
                        assignee_role=task.assignee_role,
                        due_days=task.due_days,
                        key=self._key(step.id),
                    ),
                )
            case TagStep(tag=tag):
                await self._activity(
                    JourneyActivities.tag, TagInput(member_id=self._member, add=list(tag.add), remove=list(tag.remove))
                )
            case FlagStep(flag=flag):
                add = [flag.set] if flag.set else []
                remove = [flag.clear] if flag.clear else []
                await self._activity(JourneyActivities.tag, TagInput(member_id=self._member, add=add, remove=remove))
