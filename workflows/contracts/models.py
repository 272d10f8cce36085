"""The contract's models: the input, output, status, signal and update models of every workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

# --- journeys ------------------------------------------------------------------------------------------------


class JourneyInput(BaseModel):
    member_id: str
    kind: str
    campaign_id: str | None = None
    # None: the journey's current version when the run starts.
    version: int | None = None
    # The starting event's fields a trigger condition may test (services.journeys.definition.TRIGGER_EVENT_FIELDS:
    # numbers, dates, codes, never personal data), as text, e.g. {"event.expires_on": "2027-03-01"}. The run's
    # messages get them as template data, so a reminder names what fired it. Empty for runs started before.
    trigger_facts: dict[str, str] = {}


class MemberEventSignal(BaseModel):
    type: str
    properties: dict[str, Any] = {}


class JourneyStatus(BaseModel):
    member_id: str
    kind: str
    version: int | None
    step: str
    steps: list[str]
    events: list[str]


class JourneyOutcome(BaseModel):
    # completed: reached its end; exited: an exit event ended it; member_missing: no such member.
    result: str
    steps: list[str]
    messages: list[str] = []


# --- campaigns -----------------------------------------------------------------------------------------------


class Counts(BaseModel):
    total: int = 0
    pending: int = 0
    enrolled: int = 0
    held_out: int = 0
    skipped: dict[str, int] = {}
    failed: int = 0
    cancelled: int = 0


class CampaignInput(BaseModel):
    campaign_id: str
    # Where the journeys run; by default the campaign workflow's own task queue.
    task_queue: str | None = None
    # Started by the campaign's Schedule (a recurring run): snapshot anew, never create the schedule.
    scheduled: bool = False
    page_size: int = Field(default=200, ge=1, le=2000)
    concurrency: int = Field(default=20, ge=1, le=200)
    pages_per_run: int = Field(default=25, ge=1, le=1000)
    # Carried across continue-as-new.
    cursor: str | None = None
    snapshot_done: bool = False
    pages: int = 0
    continued: int = 0
    paused: bool = False
    cancel_requested: bool = False
    counts: Counts = Counts()
    largest_history: int = 0


class CampaignStatus(BaseModel):
    campaign_id: str
    # waiting (for start_at), snapshot, enrolling, paused, cancelling, completed, cancelled, skipped
    state: str
    counts: Counts
    pages: int
    continued: int
    cursor: str | None
    # The largest history length among this workflow's runs so far (the current one included).
    largest_history: int


class CampaignOutcome(BaseModel):
    status: str
    counts: Counts
    pages: int
    continued: int
    largest_history: int


# --- redemption approvals ------------------------------------------------------------------------------------


class ApprovalInput(BaseModel):
    redemption_id: str


class Decision(BaseModel):
    action: Literal["approve", "reject"]
    approver: str
    approver_key: str
    role: str
    reason: str | None = None


class CancelRequest(BaseModel):
    reason: str = "cancelled by the member"


class ShippedRequest(BaseModel):
    tracking_number: str


class ApprovalStatus(BaseModel):
    step: str
    status: str
    decided_by: str | None
    escalated: bool


class ApprovalOutcome(BaseModel):
    status: str
    decided_by: str | None


# --- rule messages -------------------------------------------------------------------------------------------


class RuleSend(BaseModel):
    index: int
    channel: str
    template: str
    category: str = "marketing"
    coupon: str | None = None
    delay_seconds: int = 0
    unless_ordered: bool = False


class RuleMessageInput(BaseModel):
    member_id: str
    rule_id: str
    version: int
    event_at: datetime
    sends: list[RuleSend]


class RuleMessageStatus(BaseModel):
    member_id: str
    rule_id: str
    # waiting (for the next send's delay), sending, done
    state: str
    # per send done so far: "{index}:{sent|suppressed|failed|skipped_ordered}"
    results: list[str]
    # the index of the send it waits for or is sending, if any
    current: int | None


class RuleMessageOutcome(BaseModel):
    # per send: "{index}:{sent|suppressed|failed|skipped_ordered}"
    results: list[str]


# --- the daily scans and ledger maintenance (started by the worker's Schedules) ------------------------------


class DailyScanInput(BaseModel):
    pass


class DailyScanReport(BaseModel):
    started: dict[str, int]


class RuleScanWorkflowInput(BaseModel):
    pass


class RuleScanReport(BaseModel):
    fired: dict[str, int]


class MaintenanceInput(BaseModel):
    lots_expired: int = 0
    holds_released: int = 0


class MaintenanceReport(BaseModel):
    lots_expired: int
    holds_released: int
    holds_skipped: int


class BatchStatus(BaseModel):
    """The status of a scan or of the maintenance: where it is, and what it reported once done."""

    state: str  # running, done
    report: dict[str, Any] | None = None
