"""The member 360 view: the member with points and recent orders, ledger lines and messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, Message, Order
from services import members, messaging
from services.loyalty import ledger


@dataclass(frozen=True)
class MemberView:
    member: Member
    points: ledger.Balance
    recent_orders: list[Order]
    recent_ledger: list[ledger.LedgerLine]
    recent_messages: list[Message]


async def view(session: AsyncSession, member_id: uuid.UUID) -> MemberView:
    member = await members.get(session, member_id)
    orders = await session.execute(
        select(Order).where(Order.member_id == member_id).order_by(Order.placed_at.desc()).limit(10)
    )
    return MemberView(
        member=member,
        points=await ledger.balance(session, member_id),
        recent_orders=list(orders.scalars().all()),
        recent_ledger=await ledger.statement(session, member_id, limit=10),
        recent_messages=await messaging.recent_messages(session, member_id, limit=10),
    )
