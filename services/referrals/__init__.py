"""Referrals: members' codes and join links, referees linked at sign-up, and both rewarded once the referee's
first order has survived the return window (docs/loyalty.md, "Referrals")."""

from services.referrals.codes import ensure_code, join_link, normalise
from services.referrals.linking import REFUSALS, is_refusal, link
from services.referrals.payout import cancel, on_order_completed, on_order_refunded, reward
from services.referrals.programme import ProgrammeUpdate, RewardKind, get, update
from services.referrals.summary import ReferralLine, ReferralSummary, summary

__all__ = [
    "REFUSALS",
    "ProgrammeUpdate",
    "ReferralLine",
    "ReferralSummary",
    "RewardKind",
    "cancel",
    "ensure_code",
    "get",
    "is_refusal",
    "join_link",
    "link",
    "normalise",
    "on_order_completed",
    "on_order_refunded",
    "reward",
    "summary",
    "update",
]
