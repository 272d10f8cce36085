"""Every workflow the worker runs (and the replay tests replay against)."""

from workflows.bulk_import import BulkImportWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.challenge import ChallengeScanWorkflow, ChallengeWorkflow
from workflows.checkout_hold import CheckoutHold
from workflows.daily_scans import DailyScanWorkflow, RuleScanWorkflow
from workflows.journey import JourneyWorkflow
from workflows.ledger_maintenance import LedgerMaintenanceWorkflow
from workflows.plan_term import PlanTerm
from workflows.portal_code import PortalSignInCodeWorkflow
from workflows.redemption_approval import RedemptionApproval
from workflows.referral import ReferralWorkflow
from workflows.rule_message import RuleMessageWorkflow
from workflows.service_ticket import ServiceTicket
from workflows.survey_invite import SurveyInviteWorkflow
from workflows.tier_review import TierReviewWorkflow

WORKFLOWS = (
    JourneyWorkflow,
    LedgerMaintenanceWorkflow,
    DailyScanWorkflow,
    RedemptionApproval,
    CampaignWorkflow,
    RuleMessageWorkflow,
    RuleScanWorkflow,
    BulkImportWorkflow,
    ServiceTicket,
    PortalSignInCodeWorkflow,
    SurveyInviteWorkflow,
    ChallengeWorkflow,
    ChallengeScanWorkflow,
    TierReviewWorkflow,
    CheckoutHold,
    ReferralWorkflow,
    PlanTerm,
)
