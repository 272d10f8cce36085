"""The daily tier review, started by a Temporal Schedule: first the `tier_at_risk` notices for the reviews
at_risk_days ahead, then today's decisions (the reviews whose grace ends today), page by page, continuing as
new so the history stays small on any number of members."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.tiers import TierActivities, TierPageInput
    from workflows.contracts import STATUS_QUERY, TIER_REVIEW_WORKFLOW, BatchStatus, TierReviewInput, TierReviewReport

from workflows.common import MAINTENANCE_RETRY

PAGE = 500
# Pages per run before continuing as new.
PAGES_PER_RUN = 200
STAGES = ("at_risk", "review")


@workflow.defn(name=TIER_REVIEW_WORKFLOW)
class TierReviewWorkflow:
    def __init__(self) -> None:
        self._status = BatchStatus(state="running")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> BatchStatus:
        return self._status

    @workflow.run
    async def run(self, inp: TierReviewInput) -> TierReviewReport:
        on = inp.on or workflow.now().date()
        state = inp.model_copy(update={"on": on})
        pages = 0
        for stage in STAGES[STAGES.index(inp.stage) :]:
            activity = TierActivities.at_risk_page if stage == "at_risk" else TierActivities.review_page
            after = state.after if stage == state.stage else None
            while True:
                if pages == PAGES_PER_RUN:
                    workflow.continue_as_new(state.model_copy(update={"stage": stage, "after": after}))
                page = await workflow.execute_activity_method(
                    activity,
                    TierPageInput(on=on, after=after, limit=PAGE, task_queue=workflow.info().task_queue),
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=MAINTENANCE_RETRY,
                )
                pages += 1
                state = state.model_copy(
                    update={
                        "notified": state.notified + page.notified,
                        "rose": state.rose + page.rose,
                        "kept": state.kept + page.kept,
                        "fell": state.fell + page.fell,
                    }
                )
                if page.processed < PAGE:
                    break
                after = page.last_id
        report = TierReviewReport(on=on, notified=state.notified, rose=state.rose, kept=state.kept, fell=state.fell)
        self._status = BatchStatus(state="done", report=report.model_dump(mode="json"))
        return report
