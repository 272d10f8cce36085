"""Paid membership plans: the plans as data, the memberships the shop's plan orders start and renew, their
cancellation with a proportional refund, and the steps of each membership's PlanTerm workflow."""

from services.plans.catalog import PlanCreate, PlanUpdate, Refund, by_code, create, listing, update
from services.plans.catalog import get as get_plan
from services.plans.memberships import (
    RENEWAL_WINDOW,
    MemberPlan,
    OrderPlans,
    PlanLine,
    cancel,
    current,
    for_order,
    of_member,
    on_order,
    periods,
    refund_for,
)
from services.plans.memberships import get as get_membership

__all__ = [
    "RENEWAL_WINDOW",
    "MemberPlan",
    "OrderPlans",
    "PlanCreate",
    "PlanLine",
    "PlanUpdate",
    "Refund",
    "by_code",
    "cancel",
    "create",
    "current",
    "for_order",
    "get_membership",
    "get_plan",
    "listing",
    "of_member",
    "on_order",
    "periods",
    "refund_for",
    "update",
]
