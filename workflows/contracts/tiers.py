"""The tier review's contract: the daily workflow (started by the worker's Schedule) that sends the
`tier_at_risk` notices and applies the reviews due today. Dates and ids only."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from workflows.contracts.names import TIER_REVIEW_ID, TIER_REVIEW_WORKFLOW
from workflows.contracts.starts import WorkflowStart


class TierReviewInput(BaseModel):
    # None: today by the workflow's clock (the Schedule's start); a date re-runs a missed day.
    on: dt.date | None = None
    # Where a run that continued as new resumes: the stage, the last member id done, the counts so far.
    stage: str = "at_risk"  # at_risk, review
    after: str | None = None
    notified: int = 0
    rose: int = 0
    kept: int = 0
    fell: int = 0


class TierReviewReport(BaseModel):
    on: dt.date
    notified: int
    rose: int
    kept: int
    fell: int


def tier_review_start(*, task_queue: str) -> WorkflowStart:
    return WorkflowStart(TIER_REVIEW_WORKFLOW, TIER_REVIEW_ID, TierReviewInput(), task_queue)
