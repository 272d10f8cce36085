"""The challenges' contract: one workflow per member, challenge and window (`challenge-{challenge}-{member}-{day
the window opened}`, so a monthly challenge's run for a new month never meets last month's) waiting
for its goals or its deadline, the progress signal the event's transaction sends it through the outbox, and
the daily scan that enrols members when a window opens. Ids, a deadline and event names only."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from workflows.contracts.names import CHALLENGE_SCAN_WORKFLOW, CHALLENGE_WORKFLOW, MEMBER_ID, Id
from workflows.contracts.signals import WorkflowSignal
from workflows.contracts.starts import WorkflowStart, search_attributes

CHALLENGE_PROGRESS_SIGNAL = "challenge_progress"
CHALLENGE_SCAN_ID = "challenges-daily-scan"


def challenge_workflow_id(challenge_id: Id, member_id: Id, window_start: datetime) -> str:
    return f"challenge-{challenge_id}-{member_id}-{window_start:%Y%m%d}"


class ChallengeInput(BaseModel):
    member_challenge_id: str
    challenge_id: str
    member_id: str
    deadline: datetime
    # When the member's window opened (part of the workflow id); runs started before it was added have none.
    window_start: datetime | None = None
    # The goals were already met when the member joined: settle at once instead of waiting for a signal.
    met_at_start: bool = False


class ChallengeProgressSignal(BaseModel):
    """An event moved the member's progress (recorded in Postgres in the event's transaction)."""

    event: str
    goals_met: bool


class ChallengeStatus(BaseModel):
    state: str  # active, completed, failed
    goals_met: bool = False
    signals: int = 0


class SettleInput(BaseModel):
    member_challenge_id: str
    # The deadline has passed: settle as completed (goals met in time) or failed, never leave it active.
    deadline_passed: bool


class SettleOutcome(BaseModel):
    status: str  # active (not met yet), completed, failed
    points: int = 0
    coupon_id: str | None = None
    badge: str | None = None


class ChallengeScanInput(BaseModel):
    # The UTC day to enrol for; the schedule's runs leave it out (today).
    day: date | None = None


class ChallengeScanReport(BaseModel):
    enrolled: dict[str, int]


def challenge_start(inp: ChallengeInput, *, task_queue: str) -> WorkflowStart:
    """A member's run of a challenge in one window (each month of a monthly challenge has its own id)."""
    if inp.window_start is None:
        raise ValueError("a new challenge run names its window's start")
    return WorkflowStart(
        workflow=CHALLENGE_WORKFLOW,
        id=challenge_workflow_id(inp.challenge_id, inp.member_id, inp.window_start),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, inp.member_id)),
    )


def challenge_progress_signal(
    challenge_id: Id, member_id: Id, window_start: datetime, progress: ChallengeProgressSignal
) -> WorkflowSignal:
    workflow_id = challenge_workflow_id(challenge_id, member_id, window_start)
    return WorkflowSignal(workflow_id, CHALLENGE_PROGRESS_SIGNAL, progress)


def challenge_scan_start(*, task_queue: str) -> WorkflowStart:
    return WorkflowStart(CHALLENGE_SCAN_WORKFLOW, CHALLENGE_SCAN_ID, ChallengeScanInput(), task_queue)
