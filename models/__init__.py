"""SQLAlchemy tables. Importing this package registers every table on `Base.metadata`."""

from models.api_keys import ApiKey
from models.approvals import Approval
from models.audit import AuditEntry
from models.auth_failures import AuthFailure
from models.base import Base
from models.campaigns import Campaign, CampaignMember
from models.care import CareQueue, Ticket, TicketEvent, TicketSurveyDue
from models.challenges import Challenge, MemberBadge, MemberChallenge
from models.checkouts import Checkout, CheckoutSettings
from models.coupons import Coupon, CouponTemplate
from models.events import MemberEvent
from models.idempotency import IdempotencyRecord
from models.imports import Import, ImportChunk, ImportFile
from models.journeys import Journey, JourneyDraft, JourneyRun, JourneyVersion, StaffTask
from models.ledger import LedgerAccount, LedgerEntry, LedgerHold, LedgerLot, LedgerLotMove, LedgerTransaction
from models.member_fields import MemberField
from models.members import Member
from models.messaging import Message, MessageTemplate
from models.orders import Order, OrderRefund
from models.outbox import TemporalOutbox
from models.plans import Membership, MembershipPeriod, Plan
from models.points_settings import PointsSettings
from models.portal import PortalSession, PortalSignInCode, PortalSource
from models.referrals import Referral, ReferralCode, ReferralProgramme
from models.rewards import Redemption, Reward
from models.rules import Rule, RuleFiring, RuleVersion
from models.segments import Segment
from models.surveys import Survey, SurveyAnswer, SurveySend
from models.tiers import Tier, TierChange, TierPolicy

__all__ = [
    "ApiKey",
    "Approval",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "Campaign",
    "CampaignMember",
    "CareQueue",
    "Challenge",
    "Checkout",
    "CheckoutSettings",
    "Coupon",
    "CouponTemplate",
    "IdempotencyRecord",
    "Import",
    "ImportChunk",
    "ImportFile",
    "Journey",
    "JourneyDraft",
    "JourneyRun",
    "JourneyVersion",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerHold",
    "LedgerLot",
    "LedgerLotMove",
    "LedgerTransaction",
    "Member",
    "Membership",
    "MembershipPeriod",
    "MemberBadge",
    "MemberChallenge",
    "MemberField",
    "MemberEvent",
    "Message",
    "MessageTemplate",
    "Order",
    "Plan",
    "OrderRefund",
    "PointsSettings",
    "PortalSession",
    "PortalSignInCode",
    "PortalSource",
    "Redemption",
    "Referral",
    "ReferralCode",
    "ReferralProgramme",
    "Reward",
    "Rule",
    "RuleFiring",
    "RuleVersion",
    "Segment",
    "StaffTask",
    "Survey",
    "SurveyAnswer",
    "SurveySend",
    "Ticket",
    "TicketEvent",
    "TicketSurveyDue",
    "TemporalOutbox",
    "Tier",
    "TierChange",
    "TierPolicy",
]
