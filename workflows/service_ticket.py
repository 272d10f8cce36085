"""ServiceTicket: one ticket from open to survey. It confirms the ticket to the member with the expected handling
time, routes it to its queue or person (a staff task), watches the SLA (a missed deadline flags the ticket and
gives the queue's lead a task), takes replies, status changes, assignment, close and reopen as validated
updates, and after a close waits the brand's survey delay to record the survey as due, then the reopen window.

It carries ids, statuses, staff names and times only: the ticket's texts stay in PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.care import ApplyInput, BreachInput, CareActivities, RouteInput, SurveyDueInput, TicketState
    from activities.messaging import SendMessageInput
    from workflows.contracts import (
        SERVICE_TICKET_WORKFLOW,
        STATUS_QUERY,
        TICKET_ASSIGN_UPDATE,
        TICKET_CLOSE_UPDATE,
        TICKET_JOURNEY_KIND,
        TICKET_REOPEN_UPDATE,
        TICKET_REPLY_UPDATE,
        TICKET_STATUS_UPDATE,
        WORKING_STATUSES,
        TicketCommand,
        TicketInput,
        TicketStatus,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, send_message


def _refuse(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn(name=SERVICE_TICKET_WORKFLOW)
class ServiceTicket:
    def __init__(self) -> None:
        self._ticket_id = ""
        self._state: TicketState | None = None
        self._lock = asyncio.Lock()  # one change at a time: commands and the SLA's breach
        self._seq = 0
        self._changes = 0
        self._breaches: list[str] = []
        self._surveys: list[int] = []
        self._done = False

    # --- the status query and the updates -------------------------------------------------------------------

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> TicketStatus:
        state = self._state
        if state is None:
            return TicketStatus(ticket_id=self._ticket_id, status="opening")
        return TicketStatus(
            ticket_id=self._ticket_id,
            status="done" if self._done else state.status,
            assignee=state.assignee,
            first_response_due_at=state.first_response_due_at,
            resolution_due_at=state.resolution_due_at,
            first_response_at=state.first_response_at,
            breaches=list(self._breaches),
            closings=state.closings,
            closed_at=state.closed_at,
            reopen_until=self._reopen_until(),
            surveys_due=list(self._surveys),
        )

    def _reopen_until(self) -> datetime | None:
        state = self._state
        if state is None or state.closed_at is None or state.status != "closed":
            return None
        return state.closed_at + timedelta(days=state.reopen_days)

    def _check(self, update: str, command: TicketCommand) -> None:
        """Whether `command` may run now; raises the refusal the API turns into a 409 or 422."""
        state = self._state
        if state is None or self._done:
            raise _refuse("this ticket is not open for changes yet", "NotReady")
        if not command.by.strip():
            raise _refuse("who acts must be named", "InvalidCommand")
        closed = state.status == "closed"
        if update == TICKET_REOPEN_UPDATE:
            reopen_until = self._reopen_until()
            if not closed or reopen_until is None:
                raise _refuse(f"this ticket is {state.status}, not closed", "NotClosed")
            if workflow.now() > reopen_until:
                window = f"a ticket can be reopened up to {state.reopen_days:g} days after it closed"
                raise _refuse(window, "ReopenWindowClosed")
            return
        if closed:
            raise _refuse("this ticket is closed; reopen it first", "TicketClosed")
        if update == TICKET_REPLY_UPDATE and not command.reply_id:
            raise _refuse("a reply needs its stored text", "InvalidCommand")
        if update == TICKET_STATUS_UPDATE:
            if command.status not in WORKING_STATUSES:
                allowed = ", ".join(WORKING_STATUSES)
                raise _refuse(f"status must be one of: {allowed} (closing has its own call)", "InvalidCommand")
            if command.status == state.status:
                raise _refuse(f"this ticket is already {state.status}", "NoChange")
        if update == TICKET_ASSIGN_UPDATE:
            if not (command.assignee or "").strip():
                raise _refuse("an assignment needs a person", "InvalidCommand")
            if command.assignee == state.assignee:
                raise _refuse(f"this ticket is already assigned to {state.assignee}", "NoChange")

    async def _run_command(self, update: str, command: TicketCommand) -> TicketStatus:
        async with self._lock:
            self._check(update, command)  # again: an update accepted just before may have changed the state
            self._seq += 1
            self._state = await workflow.execute_activity_method(
                CareActivities.apply,
                ApplyInput(ticket_id=self._ticket_id, update=update, command=command, seq=self._seq, at=workflow.now()),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._changes += 1
        return self.status()

    @workflow.update(name=TICKET_REPLY_UPDATE)
    async def reply(self, command: TicketCommand) -> TicketStatus:
        return await self._run_command(TICKET_REPLY_UPDATE, command)

    @reply.validator
    def _check_reply(self, command: TicketCommand) -> None:
        self._check(TICKET_REPLY_UPDATE, command)

    @workflow.update(name=TICKET_STATUS_UPDATE)
    async def set_status(self, command: TicketCommand) -> TicketStatus:
        return await self._run_command(TICKET_STATUS_UPDATE, command)

    @set_status.validator
    def _check_status(self, command: TicketCommand) -> None:
        self._check(TICKET_STATUS_UPDATE, command)

    @workflow.update(name=TICKET_ASSIGN_UPDATE)
    async def assign(self, command: TicketCommand) -> TicketStatus:
        return await self._run_command(TICKET_ASSIGN_UPDATE, command)

    @assign.validator
    def _check_assign(self, command: TicketCommand) -> None:
        self._check(TICKET_ASSIGN_UPDATE, command)

    @workflow.update(name=TICKET_CLOSE_UPDATE)
    async def close(self, command: TicketCommand) -> TicketStatus:
        return await self._run_command(TICKET_CLOSE_UPDATE, command)

    @close.validator
    def _check_close(self, command: TicketCommand) -> None:
        self._check(TICKET_CLOSE_UPDATE, command)

    @workflow.update(name=TICKET_REOPEN_UPDATE)
    async def reopen(self, command: TicketCommand) -> TicketStatus:
        return await self._run_command(TICKET_REOPEN_UPDATE, command)

    @reopen.validator
    def _check_reopen(self, command: TicketCommand) -> None:
        self._check(TICKET_REOPEN_UPDATE, command)

    # --- the run ---------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: TicketInput) -> TicketStatus:
        self._ticket_id = inp.ticket_id
        opened: TicketState = await workflow.execute_activity_method(
            CareActivities.load, inp.ticket_id, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )
        await self._confirm(opened)
        self._state = await workflow.execute_activity_method(
            CareActivities.route,
            RouteInput(ticket_id=inp.ticket_id, at=workflow.now()),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        while True:
            if self._state.status != "closed":
                await self._watch_sla()
            elif await self._after_close():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._done = True
        return self.status()

    async def _confirm(self, opened: TicketState) -> None:
        """The transactional confirmation with the expected handling time, once (the key is the workflow's)."""
        await send_message(
            SendMessageInput(
                message_key=f"{workflow.info().workflow_id}:confirmation",
                member_id=opened.member_id,
                channel="email",
                template="ticket_confirmation",
                category="transactional",
                journey_kind=TICKET_JOURNEY_KIND,
                context={
                    "ticket_ref": self._ticket_id.replace("-", "")[-8:].upper(),
                    "priority": opened.priority,
                    "first_response_hours": f"{opened.first_response_hours:g}",
                    "resolution_hours": f"{opened.resolution_hours:g}",
                },
            )
        )

    def _next_deadline(self) -> tuple[datetime, str] | None:
        state = self._state
        assert state is not None
        pending = []
        if state.first_response_at is None and "first_response" not in self._breaches:
            pending.append((state.first_response_due_at, "first_response"))
        resolution = f"resolution:{state.closings}"
        if resolution not in self._breaches:
            pending.append((state.resolution_due_at, resolution))
        return min(pending) if pending else None

    async def _watch_sla(self) -> None:
        """Wait for the next change or the next SLA deadline, whichever comes first; a deadline reached flags
        the breach."""
        seen = self._changes
        upcoming = self._next_deadline()
        if upcoming is None:
            await workflow.wait_condition(lambda: self._changes != seen)
            return
        due, kind = upcoming
        remaining = (due - workflow.now()).total_seconds()
        if remaining > 0:
            try:
                await workflow.wait_condition(lambda: self._changes != seen, timeout=timedelta(seconds=remaining))
                return
            except TimeoutError:
                pass
        async with self._lock:
            if self._changes != seen:
                return  # a command got in first: look again
            self._state = await workflow.execute_activity_method(
                CareActivities.breach,
                BreachInput(ticket_id=self._ticket_id, kind=kind, at=workflow.now()),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._breaches.append(kind)

    async def _after_close(self) -> bool:
        """A closed ticket: the survey falls due after the delay, and the run ends once the reopen window has
        passed too. False when it was reopened meanwhile."""
        state = self._state
        assert state is not None
        assert state.closed_at is not None
        closing = state.closings
        survey_at = state.closed_at + timedelta(hours=state.survey_delay_hours)
        reopen_until = state.closed_at + timedelta(days=state.reopen_days)
        while True:
            surveyed = closing in self._surveys
            next_at = reopen_until if surveyed else min(survey_at, reopen_until)
            remaining = (next_at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(lambda: self._reopened(), timeout=timedelta(seconds=remaining))
                    return False
                except TimeoutError:
                    pass
            if not surveyed and workflow.now() >= survey_at:
                await workflow.execute_activity_method(
                    CareActivities.survey_due,
                    SurveyDueInput(ticket_id=self._ticket_id, closing=closing, at=workflow.now()),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
                self._surveys.append(closing)
            if self._reopened():
                return False
            if workflow.now() >= reopen_until and closing in self._surveys:
                return True

    def _reopened(self) -> bool:
        return self._state is not None and self._state.status != "closed"
