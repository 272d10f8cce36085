"""Helpers for the paid plan tests: a unique plan (plans are global rows) with its own coupon template, the
shop's plan order, and reads of a member's memberships and coupons."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Coupon, CouponTemplate, Membership, Message
from tests.support.coupons import create_template
from tests.support.helpers import ApiClient, order_body

RECENT = "2026-01-15T10:30:00Z"


def plan_body(**overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:10]
    body: dict[str, Any] = {
        "code": f"plus_{suffix}",
        "name_en": "Tea House Plus",
        "name_zh_cn": "茶舍 Plus 会员",
        "price": "120.00",
        "currency": "CNY",
        "sku": f"PLUS-{suffix}",
        "term_months": 12,
        "earn_multiplier": "2",
        "free_shipping": True,
        "refund_on_cancel": "proportional",
    }
    body.update(overrides)
    return body


async def create_plan(admin: ApiClient, marketer: ApiClient | None = None, **overrides: Any) -> dict[str, Any]:
    """A plan; with `marketer`, a fresh monthly coupon template of its own."""
    if marketer is not None and "monthly_coupon" not in overrides:
        overrides["monthly_coupon"] = (await create_template(marketer, name="Plus monthly 10% off"))["code"]
    response = await admin.post("/api/v1/plans", json=plan_body(**overrides))
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


def plan_order(member_id: str, plan: dict[str, Any], *, quantity: int = 1, **overrides: Any) -> dict[str, Any]:
    price = plan["price"]
    amount = str(Decimal(price) * quantity)
    item = {"sku": plan["sku"], "name": plan["name_en"], "quantity": quantity, "unit_price": price}
    return order_body(member_id, amount=amount, items=[item], **overrides)


async def buy(shop: ApiClient, member_id: str, plan: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = await shop.post("/api/v1/orders", json=plan_order(member_id, plan, **overrides))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def order(shop: ApiClient, member_id: str, amount: str) -> dict[str, Any]:
    """An ordinary order (no plan in it)."""
    item = {"sku": "TEA-001", "name": "Oolong", "quantity": 1, "unit_price": amount}
    response = await shop.post("/api/v1/orders", json=order_body(member_id, amount=amount, items=[item]))
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


async def member_plan(client: ApiClient, member_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/members/{member_id}/plan")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def memberships(sessions: async_sessionmaker[AsyncSession], member_id: str) -> list[Membership]:
    async with sessions() as session:
        stmt = select(Membership).where(Membership.member_id == uuid.UUID(member_id)).order_by(Membership.started_at)
        return list((await session.execute(stmt)).scalars())


async def plan_coupons(sessions: async_sessionmaker[AsyncSession], member_id: str, template: str) -> list[str]:
    """The issue keys of the member's coupons from `template`, in key order."""
    async with sessions() as session:
        stmt = (
            select(Coupon.issue_key)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.member_id == uuid.UUID(member_id), CouponTemplate.code == template)
        )
        return sorted(str(key) for key in (await session.execute(stmt)).scalars())


async def reminders(sessions: async_sessionmaker[AsyncSession], member_id: str) -> list[Message]:
    async with sessions() as session:
        stmt = select(Message).where(
            Message.member_id == uuid.UUID(member_id), Message.template == "plan_renewal_reminder"
        )
        return list((await session.execute(stmt.order_by(Message.created_at))).scalars())


async def count_reminders(sessions: async_sessionmaker[AsyncSession], member_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(
            Message.member_id == uuid.UUID(member_id), Message.template == "plan_renewal_reminder"
        )
        return int((await session.execute(stmt)).scalar_one())
