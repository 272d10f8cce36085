"""PlanTerm: one paid membership's term. It grants the plan's coupon at the start and every month (each grant
idempotent by the membership's and the month's key), sends the renewal reminder 7 days before the end, and at
the end asks the database to end the benefits. The membership's row decides: a renewal moves its end (the
expiry step then finds it later and the run goes on), a cancellation ends it; either nudges the run with a
signal so it reads the row again at once. One run per membership, so a renewal never starts a second one.

It carries the membership's id, dates and counts only."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.messaging import SendMessageInput
    from activities.plans import ExpireInput, GrantInput, GrantResult, PlanActivities, TermSnapshot
    from workflows.contracts import (
        MEMBERSHIP_CHANGED_SIGNAL,
        PLAN_JOURNEY_KIND,
        PLAN_TERM_WORKFLOW,
        REMINDER_DAYS_BEFORE_END,
        RENEWAL_REMINDER_TEMPLATE,
        STATUS_QUERY,
        PlanTermInput,
        PlanTermStatus,
    )

from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, send_message

GRANT, REMIND, EXPIRE = "grant", "remind", "expire"


@workflow.defn(name=PLAN_TERM_WORKFLOW)
class PlanTerm:
    def __init__(self) -> None:
        self._membership_id = ""
        self._state: TermSnapshot | None = None
        self._changed = False
        self._months = 0  # months whose coupon was handled (granted or skipped with a reason)
        self._coupons = 0
        self._reminded_for: datetime | None = None
        self._reminders = 0

    @workflow.signal(name=MEMBERSHIP_CHANGED_SIGNAL)
    def changed(self) -> None:
        self._changed = True

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> PlanTermStatus:
        state = self._state
        return PlanTermStatus(
            membership_id=self._membership_id,
            status="starting" if state is None else state.status,
            ends_at=None if state is None else state.ends_at,
            coupons_granted=self._coupons,
            reminders_sent=self._reminders,
        )

    @workflow.run
    async def run(self, inp: PlanTermInput) -> PlanTermStatus:
        self._membership_id = inp.membership_id
        self._months, self._reminded_for = inp.months_handled, inp.reminded_for
        self._state = await self._load()
        while self._state.status == "active":
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    PlanTermInput(
                        membership_id=inp.membership_id,
                        months_handled=self._months,
                        reminded_for=self._reminded_for,
                    )
                )
            step, at = self._next(self._state)
            if await self._changed_before(at):
                self._changed = False
                self._state = await self._load()
                continue
            if step == GRANT:
                await self._grant()
            elif step == REMIND:
                await self._remind()
            else:
                self._state = await workflow.execute_activity_method(
                    PlanActivities.expire,
                    ExpireInput(membership_id=self._membership_id, at=workflow.now()),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
        return self.status()

    def _next(self, state: TermSnapshot) -> tuple[str, datetime]:
        """The next thing due: a month's coupon, the reminder, or the end (in that order on a tie)."""
        due = [(state.ends_at, 2, EXPIRE)]
        if self._months < len(state.grant_dues):
            due.append((state.grant_dues[self._months], 0, GRANT))
        if self._reminded_for != state.ends_at:
            due.append((state.ends_at - timedelta(days=REMINDER_DAYS_BEFORE_END), 1, REMIND))
        at, _, step = min(due)
        return step, at

    async def _changed_before(self, moment: datetime) -> bool:
        """Wait until `moment`; True when the membership changed first (read it again)."""
        remaining = (moment - workflow.now()).total_seconds()
        if remaining > 0 and not self._changed:
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                return False
        return self._changed

    async def _load(self) -> TermSnapshot:
        snapshot: TermSnapshot = await workflow.execute_activity_method(
            PlanActivities.load,
            self._membership_id,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return snapshot

    async def _grant(self) -> None:
        if self._state is not None and not self._state.monthly_coupon:
            self._months += 1  # the plan has no coupon (now): nothing to ask the database
            return
        result: GrantResult = await workflow.execute_activity_method(
            PlanActivities.grant_coupon,
            GrantInput(membership_id=self._membership_id, month=self._months),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._months += 1
        if result.result == "granted":
            self._coupons += 1
        elif result.result in ("inactive", "past_end"):
            self._state = await self._load()

    async def _remind(self) -> None:
        """The renewal reminder for this end date, once; read the row first, as a renewal may just have moved
        the end (the reminder then waits for the new one)."""
        expected = self._state.ends_at if self._state is not None else None
        self._state = await self._load()
        if self._state.status != "active" or self._state.ends_at != expected:
            return
        ends_at = self._state.ends_at
        result = await send_message(
            SendMessageInput(
                message_key=f"{workflow.info().workflow_id}:reminder:{ends_at.date().isoformat()}",
                member_id=self._state.member_id,
                channel="email",
                template=RENEWAL_REMINDER_TEMPLATE,
                category="marketing",
                journey_kind=PLAN_JOURNEY_KIND,
                context={
                    "plan_code": self._state.plan_code,
                    "plan_name_en": self._state.plan_name_en,
                    "plan_name_zh_cn": self._state.plan_name_zh_cn,
                    "ends_on": ends_at.date().isoformat(),
                },
            )
        )
        self._reminded_for = ends_at
        if result is not None and result.status in ("sent", "delivered"):
            self._reminders += 1
