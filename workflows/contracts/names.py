"""The contract's names: workflow types, signals, updates, the status query, search-attribute keys and the
workflow id functions. The names already in saved histories never change."""

from __future__ import annotations

import uuid

from temporalio.common import SearchAttributeKey

Id = uuid.UUID | str

# --- workflow type names (as stored in histories and schedules) --------------------------------------------

JOURNEY_WORKFLOW = "JourneyWorkflow"
CAMPAIGN_WORKFLOW = "CampaignWorkflow"
REDEMPTION_APPROVAL_WORKFLOW = "RedemptionApproval"
RULE_MESSAGE_WORKFLOW = "RuleMessageWorkflow"
JOURNEY_SCAN_WORKFLOW = "DailyScanWorkflow"
RULE_SCAN_WORKFLOW = "RuleScanWorkflow"
LEDGER_MAINTENANCE_WORKFLOW = "LedgerMaintenanceWorkflow"
BULK_IMPORT_WORKFLOW = "BulkImportWorkflow"
SERVICE_TICKET_WORKFLOW = "ServiceTicket"
PORTAL_SIGN_IN_CODE_WORKFLOW = "PortalSignInCodeWorkflow"
SURVEY_INVITE_WORKFLOW = "SurveyInviteWorkflow"
CHALLENGE_WORKFLOW = "ChallengeWorkflow"
CHALLENGE_SCAN_WORKFLOW = "ChallengeScanWorkflow"
TIER_REVIEW_WORKFLOW = "TierReviewWorkflow"
CHECKOUT_HOLD_WORKFLOW = "CheckoutHold"
REFERRAL_WORKFLOW = "Referral"
PLAN_TERM_WORKFLOW = "PlanTerm"
WORKFLOW_NAMES = frozenset(
    {
        JOURNEY_WORKFLOW,
        CAMPAIGN_WORKFLOW,
        REDEMPTION_APPROVAL_WORKFLOW,
        RULE_MESSAGE_WORKFLOW,
        JOURNEY_SCAN_WORKFLOW,
        RULE_SCAN_WORKFLOW,
        LEDGER_MAINTENANCE_WORKFLOW,
        BULK_IMPORT_WORKFLOW,
        SERVICE_TICKET_WORKFLOW,
        PORTAL_SIGN_IN_CODE_WORKFLOW,
        SURVEY_INVITE_WORKFLOW,
        CHALLENGE_WORKFLOW,
        CHALLENGE_SCAN_WORKFLOW,
        TIER_REVIEW_WORKFLOW,
        CHECKOUT_HOLD_WORKFLOW,
        REFERRAL_WORKFLOW,
        PLAN_TERM_WORKFLOW,
    }
)

# --- signals, updates, the status query ----------------------------------------------------------------------

# Every long-running workflow answers this query with its status model.
STATUS_QUERY = "status"
MEMBER_EVENT_SIGNAL = "member_event"  # journeys
PAUSE_SIGNAL = "pause"  # campaigns
RESUME_SIGNAL = "resume"
CANCEL_SIGNAL = "cancel"
DECIDE_UPDATE = "decide"  # redemption approvals
CANCEL_UPDATE = "cancel"
SHIPPED_UPDATE = "shipped"
# service tickets: each takes a contracts.TicketCommand and answers with the ticket's TicketStatus
TICKET_REPLY_UPDATE = "reply"
TICKET_STATUS_UPDATE = "set_status"
TICKET_ASSIGN_UPDATE = "assign"
TICKET_CLOSE_UPDATE = "close"
TICKET_REOPEN_UPDATE = "reopen"

# --- search attributes (Keyword; the worker registers them where missing) ------------------------------------

MEMBER_ID = SearchAttributeKey.for_keyword("MemberId")
JOURNEY_KIND = SearchAttributeKey.for_keyword("JourneyKind")
CAMPAIGN_ID = SearchAttributeKey.for_keyword("CampaignId")
JOURNEY_STEP = SearchAttributeKey.for_keyword("JourneyStep")
TICKET_ID = SearchAttributeKey.for_keyword("TicketId")
SEARCH_ATTRIBUTES = (MEMBER_ID, JOURNEY_KIND, CAMPAIGN_ID, JOURNEY_STEP, TICKET_ID)
START_STEP = "start"  # JourneyStep of a run that has not entered a step yet

# --- workflow ids (from business ids, so a duplicate trigger finds the run instead of starting another) -------

LEDGER_MAINTENANCE_ID = "ledger-maintenance"
JOURNEY_SCAN_ID = "journey-daily-scan"
RULE_SCAN_ID = "rules-daily-scan"
TIER_REVIEW_ID = "tier-daily-review"


def journey_workflow_id(kind: str, member_id: Id) -> str:
    return f"journey-{kind}-{member_id}"


def campaign_workflow_id(campaign_id: Id) -> str:
    return f"campaign-{campaign_id}"


def campaign_member_workflow_id(campaign_id: Id, member_id: Id) -> str:
    """The journey a campaign starts for one member."""
    return f"campaign-{campaign_id}-{member_id}"


def campaign_schedule_id(campaign_id: Id) -> str:
    """The Temporal Schedule of a recurring campaign (its runs keep the campaign's workflow id)."""
    return f"campaign-schedule-{campaign_id}"


def redemption_workflow_id(redemption_id: Id) -> str:
    return f"redemption-{redemption_id}"


def ticket_workflow_id(ticket_id: Id) -> str:
    return f"ticket-{ticket_id}"


def rule_message_workflow_id(rule_id: Id, version: int, event_key: str) -> str:
    """One firing of a rule's messages: the rule, its version and the event it fired on."""
    return f"rule-{rule_id}-v{version}-{event_key}"
