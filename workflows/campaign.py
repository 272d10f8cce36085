"""The campaign workflow: snapshot the segment once, then enrol the pending members page by page, continuing
as new so its history stays small at any size.

The input carries ids, the cursor and the counters only. Pause, resume and cancel arrive as signals; the
status the marketer set in the database is also read back with every page, which is how scheduled runs of a
recurring campaign (started by the Schedule, under other ids) obey them too. The `status` query returns
the status object."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.campaigns import (
        CampaignActivities,
        CampaignRef,
        CancelInput,
        EnrollInput,
        FailInput,
        FinishInput,
        Page,
        PageInput,
        ScheduleInput,
    )
    from workflows.contracts import (
        CAMPAIGN_WORKFLOW,
        CANCEL_SIGNAL,
        PAUSE_SIGNAL,
        RESUME_SIGNAL,
        STATUS_QUERY,
        CampaignInput,
        CampaignOutcome,
        CampaignStatus,
        Counts,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT

# A paused run looks at the database this often, in case the resume came without a signal.
PAUSE_POLL = timedelta(minutes=1)
ENROLL_TIMEOUT = timedelta(minutes=10)
# A worker that dies mid-page is noticed this soon, and the page is retried on another worker.
ENROLL_HEARTBEAT = timedelta(seconds=10)


@workflow.defn(name=CAMPAIGN_WORKFLOW)
class CampaignWorkflow:
    def __init__(self) -> None:
        self._inp: CampaignInput | None = None
        self._state = "starting"
        self._paused = False
        self._cancel = False
        self._counts = Counts()
        self._pages = 0

    # The signals come through the outbox with a JSON object (empty, or {"cancel_journeys": …}); the
    # database holds what was asked, so the handlers only wake the workflow.
    @workflow.signal(name=PAUSE_SIGNAL)
    def pause(self, _: dict[str, Any] | None = None) -> None:
        self._paused = True

    @workflow.signal(name=RESUME_SIGNAL)
    def resume(self, _: dict[str, Any] | None = None) -> None:
        self._paused = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self, _: dict[str, Any] | None = None) -> None:
        self._cancel = True

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> CampaignStatus:
        assert self._inp is not None
        return CampaignStatus(
            campaign_id=self._inp.campaign_id,
            state=self._state,
            counts=self._counts,
            pages=self._pages,
            continued=self._inp.continued,
            cursor=self._inp.cursor,
            largest_history=self._largest_history(),
        )

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignOutcome:
        try:
            uuid.UUID(inp.campaign_id)
        except ValueError as exc:
            raise ApplicationError("campaign_id is not a UUID", type="invalid_input", non_retryable=True) from exc
        self._inp = inp
        self._paused, self._cancel = inp.paused, inp.cancel_requested
        self._counts, self._pages = inp.counts, inp.pages
        try:
            return await self._run(inp)
        except ActivityError as exc:
            # A business failure (the campaign or its segment vanished …): the campaign shows why.
            cause = exc.cause
            message = str(getattr(cause, "message", None) or cause or exc)
            await self._call(CampaignActivities.fail, FailInput(campaign_id=inp.campaign_id, error=message))
            raise ApplicationError(message, type="campaign_failed", non_retryable=True) from exc

    async def _run(self, inp: CampaignInput) -> CampaignOutcome:
        ref = CampaignRef(campaign_id=inp.campaign_id)
        if not inp.snapshot_done:
            state = await self._call(CampaignActivities.state, ref)
            if state.status == "cancelled":
                return await self._cancelled()
            if state.status not in ("running", "scheduled", "paused") or (inp.scheduled and state.status == "paused"):
                # A stale start (the campaign ended meanwhile), or a scheduled run while the campaign is paused.
                return self._outcome("skipped")
            self._paused = self._paused or state.status == "paused"
            if state.recurring and not inp.scheduled:
                await self._call(
                    CampaignActivities.ensure_schedule,
                    ScheduleInput(
                        campaign_id=inp.campaign_id,
                        task_queue=self._journey_queue,
                        tuning=inp.model_dump(include={"page_size", "concurrency", "pages_per_run"}),
                    ),
                )
                if state.start_at is not None:
                    return self._outcome("scheduled")  # the Schedule starts the first run at start_at
            elif state.start_at is not None and state.start_at > workflow.now():
                self._state = "waiting"
                try:
                    await workflow.wait_condition(lambda: self._cancel, timeout=state.start_at - workflow.now())
                except TimeoutError:
                    pass
                if self._cancel:
                    return await self._cancelled()
            self._state = "snapshot"
            snapped = await self._call(CampaignActivities.snapshot, ref)
            self._counts = snapped.counts
            inp.snapshot_done = True
        pages_this_run = 0
        page: Page | None = None
        while True:
            if self._cancel:
                return await self._cancelled()
            if self._paused:
                page = None  # read afresh after the pause
                await self._wait_while_paused(ref)
                continue
            self._state = "enrolling"
            if page is None:
                page = await self._call(CampaignActivities.next_page, self._page_after(inp.cursor))
            if not page.member_ids:
                break
            # The next page is read while this one enrols (pages never overlap: it starts after this one's
            # last member), so no enrolment waits for a page read.
            following = workflow.start_activity_method(
                CampaignActivities.next_page,
                self._page_after(page.member_ids[-1]),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            enrolled = await workflow.execute_activity_method(
                CampaignActivities.enroll,
                EnrollInput(
                    campaign_id=inp.campaign_id,
                    member_ids=page.member_ids,
                    task_queue=self._journey_queue,
                    concurrency=inp.concurrency,
                ),
                start_to_close_timeout=ENROLL_TIMEOUT,
                heartbeat_timeout=ENROLL_HEARTBEAT,
                retry_policy=ACTIVITY_RETRY,
            )
            next_page = await following
            self._counts = enrolled.counts
            self._obey(enrolled.status)
            if not enrolled.done:
                page = None  # it stays pending and is read again after a resume
                continue
            self._pages += 1
            inp.cursor = page.member_ids[-1]
            page = next_page
            pages_this_run += 1
            if pages_this_run >= inp.pages_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_input(inp))
        status = await self._call(
            CampaignActivities.finish, FinishInput(campaign_id=inp.campaign_id, counts=self._counts)
        )
        return self._outcome(status)

    def _page_after(self, cursor: str | None) -> PageInput:
        assert self._inp is not None
        return PageInput(campaign_id=self._inp.campaign_id, after=cursor, limit=self._inp.page_size)

    def _obey(self, status: str) -> None:
        """The database status as the marketer last set it (scheduled runs get no signals)."""
        if status == "cancelled":
            self._cancel = True
        elif status == "paused":
            self._paused = True

    async def _wait_while_paused(self, ref: CampaignRef) -> None:
        self._state = "paused"
        try:
            await workflow.wait_condition(lambda: not self._paused or self._cancel, timeout=PAUSE_POLL)
        except TimeoutError:
            state = await self._call(CampaignActivities.state, ref)
            self._paused = state.status == "paused"
            self._obey(state.status)

    async def _cancelled(self) -> CampaignOutcome:
        assert self._inp is not None
        self._state = "cancelling"
        await workflow.execute_activity_method(
            CampaignActivities.cancel,
            CancelInput(campaign_id=self._inp.campaign_id, concurrency=self._inp.concurrency),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )
        return self._outcome("cancelled")

    def _outcome(self, status: str) -> CampaignOutcome:
        assert self._inp is not None
        self._state = status
        return CampaignOutcome(
            status=status,
            counts=self._counts,
            pages=self._pages,
            continued=self._inp.continued,
            largest_history=self._largest_history(),
        )

    def _next_input(self, inp: CampaignInput) -> CampaignInput:
        return inp.model_copy(
            update={
                "pages": self._pages,
                "continued": inp.continued + 1,
                "paused": self._paused,
                "cancel_requested": self._cancel,
                "counts": self._counts,
                "largest_history": self._largest_history(),
            }
        )

    def _largest_history(self) -> int:
        assert self._inp is not None
        return max(self._inp.largest_history, workflow.info().get_current_history_length())

    @property
    def _journey_queue(self) -> str:
        assert self._inp is not None
        return self._inp.task_queue or workflow.info().task_queue

    async def _call(self, method: Any, arg: BaseModel) -> Any:
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )
