"""Paid plan and membership responses, and the benefits a member holds (what the shop reads)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from services.plans import MemberPlan


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name_en: str
    name_zh_cn: str
    price: Decimal
    currency: str
    sku: str
    term_months: int
    earn_multiplier: Decimal
    monthly_coupon: str | None
    free_shipping: bool
    refund_on_cancel: str
    active: bool
    created_at: datetime
    updated_at: datetime


class MembershipOut(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    plan_id: uuid.UUID
    plan_code: str
    status: str
    started_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    renewals: int
    renewed_from_id: uuid.UUID | None
    # Set on cancellation: what the shop should refund (0.00 when the plan refunds nothing).
    refund_amount: Decimal | None
    workflow_id: str

    @classmethod
    def of(cls, held: MemberPlan) -> MembershipOut:
        m = held.membership
        return cls(
            id=m.id,
            member_id=m.member_id,
            plan_id=m.plan_id,
            plan_code=held.plan.code,
            status=m.status,
            started_at=m.started_at,
            ends_at=m.ends_at,
            ended_at=m.ended_at,
            renewals=m.renewals,
            renewed_from_id=m.renewed_from_id,
            refund_amount=m.refund_amount,
            workflow_id=f"plan-{m.id}",
        )


class PlanBenefitsOut(BaseModel):
    """The member's current paid plan and what it gives; `free_shipping` is the flag the shop reads."""

    plan_code: str
    plan_name_en: str
    plan_name_zh_cn: str
    membership_id: uuid.UUID
    ends_at: datetime
    earn_multiplier: Decimal
    monthly_coupon: str | None
    free_shipping: bool

    @classmethod
    def of(cls, held: MemberPlan | None) -> PlanBenefitsOut | None:
        if held is None:
            return None
        return cls(
            plan_code=held.plan.code,
            plan_name_en=held.plan.name_en,
            plan_name_zh_cn=held.plan.name_zh_cn,
            membership_id=held.membership.id,
            ends_at=held.membership.ends_at,
            earn_multiplier=held.plan.earn_multiplier,
            monthly_coupon=held.plan.monthly_coupon,
            free_shipping=held.plan.free_shipping,
        )


class MemberPlansOut(BaseModel):
    """A member's paid plan now (null without one) and every membership they had, newest first."""

    member_id: uuid.UUID
    free_shipping: bool
    current: PlanBenefitsOut | None
    memberships: list[MembershipOut]


class MembershipCancel(BaseModel):
    """Nothing to say: the cancellation takes effect now (the body may be left out or be `{}`)."""

    model_config = ConfigDict(extra="forbid")
