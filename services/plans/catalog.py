"""Paid plans as data: what a plan costs, the shop's SKU that buys it, its term and its benefits. Created and
changed by staff through the API and the console; every change is audited. A plan's code never changes (the
memberships and the KPIs name it); its SKU, price and benefits may, and apply to memberships from then on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import CouponTemplate, Plan
from services.loyalty.money import CENT, Money
from services.platform import audit
from services.platform.audit import Actor

PlanCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
PlanName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CouponCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]


class Refund(StrEnum):
    PROPORTIONAL = "proportional"  # the unused share of what was paid, by days
    NONE = "none"


class PlanFields(BaseModel):
    """What a plan is, apart from its code (which never changes)."""

    model_config = ConfigDict(extra="forbid")

    name_en: PlanName
    name_zh_cn: PlanName
    price: Money = Field(gt=0)
    currency: Currency
    sku: Sku
    term_months: int = Field(ge=1, le=60)
    # On top of the tier's: 1.5 with a gold tier's 2 earns 3 points per currency unit.
    earn_multiplier: Decimal = Field(default=Decimal("1"), ge=1, le=10, decimal_places=2)
    monthly_coupon: CouponCode | None = None
    free_shipping: bool = False
    refund_on_cancel: Refund = Refund.NONE
    active: bool = True

    @field_validator("earn_multiplier", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('use a decimal string such as "1.5"')
        return value


class PlanCreate(PlanFields):
    code: PlanCode


class PlanUpdate(PlanFields):
    pass


async def listing(session: AsyncSession) -> list[Plan]:
    return list((await session.execute(select(Plan).order_by(Plan.code))).scalars())


async def get(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist", code="plan_not_found")
    return plan


async def by_code(session: AsyncSession, code: str) -> Plan:
    plan = (await session.execute(select(Plan).where(Plan.code == code))).scalar_one_or_none()
    if plan is None:
        raise NotFound(f"plan {code!r} does not exist", code="plan_not_found")
    return plan


async def _check(session: AsyncSession, data: PlanFields, *, plan_id: uuid.UUID | None) -> None:
    """The references a form cannot check: the coupon template exists, the SKU is not another plan's."""
    problems = []
    if data.monthly_coupon is not None:
        found = (
            await session.execute(select(CouponTemplate.id).where(CouponTemplate.code == data.monthly_coupon))
        ).scalar_one_or_none()
        if found is None:
            problems.append({"field": "body.monthly_coupon", "message": f"no coupon template {data.monthly_coupon!r}"})
    other = (await session.execute(select(Plan.id, Plan.code).where(Plan.sku == data.sku))).one_or_none()
    if other is not None and other.id != plan_id:
        raise Conflict(f"SKU {data.sku!r} already buys plan {other.code!r}", code="plan_sku_taken")
    if problems:
        raise InvalidInput("the plan is invalid", details=problems)


def _columns(data: PlanFields) -> dict[str, Any]:
    """The row's values, with amounts at the column's two places (so the answer reads as a later read will)."""
    values = data.model_dump(mode="python")
    values["price"] = data.price.quantize(CENT)
    values["earn_multiplier"] = data.earn_multiplier.quantize(CENT)
    values["refund_on_cancel"] = data.refund_on_cancel.value
    return values


def _details(plan: Plan) -> dict[str, Any]:
    return {
        "code": plan.code,
        "sku": plan.sku,
        "price": str(plan.price),
        "currency": plan.currency,
        "term_months": plan.term_months,
        "earn_multiplier": str(plan.earn_multiplier),
        "monthly_coupon": plan.monthly_coupon,
        "free_shipping": plan.free_shipping,
        "refund_on_cancel": plan.refund_on_cancel,
        "active": plan.active,
    }


async def create(session: AsyncSession, data: PlanCreate, *, actor: Actor) -> Plan:
    if (await session.execute(select(Plan.id).where(Plan.code == data.code))).scalar_one_or_none() is not None:
        raise Conflict(f"plan {data.code!r} already exists", code="plan_exists")
    await _check(session, data, plan_id=None)
    plan = Plan(**_columns(data))
    session.add(plan)
    await session.flush()
    await audit.record(
        session, actor, action="plan.create", target_type="plan", target_id=str(plan.id), details=_details(plan)
    )
    return plan


async def update(session: AsyncSession, plan_id: uuid.UUID, data: PlanUpdate, *, actor: Actor) -> Plan:
    """Replace a plan's fields (its code stays). Running memberships keep their dates; the new benefits apply
    from the next order, coupon grant or reminder on."""
    plan = await get(session, plan_id)
    await _check(session, data, plan_id=plan.id)
    for name, value in _columns(data).items():
        setattr(plan, name, value)
    plan.updated_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session, actor, action="plan.update", target_type="plan", target_id=str(plan.id), details=_details(plan)
    )
    return plan
