"""A brand of its own for tests whose figures span every member (KPIs, RFM, the demo): a fresh migrated database
on the session's PostgreSQL server, and members and orders dated where the test needs them."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.migrate import upgrade
from devstack.embedded import EmbeddedPostgres
from models import Coupon, CouponTemplate, Message
from services.intake import orders, signups
from services.intake.orders import OrderCreate
from services.members import MemberCreate

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    url: str
    engine: AsyncEngine
    sessions: Sessions


async def scratch_database(postgres: EmbeddedPostgres, prefix: str, **engine_options: Any) -> ScratchDatabase:
    """A new database named `{prefix}_…`, migrated, with an engine of its own (the caller disposes of it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(name)
    url = postgres.url(name)
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url, **engine_options)
    return ScratchDatabase(name, url, engine, async_sessionmaker(engine, expire_on_commit=False))


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def joined_member(session: AsyncSession, joined: date, *, label: str) -> uuid.UUID:
    """A member signed up through the service, then dated to have joined at noon on `joined`."""
    member = await signups.register(
        session, MemberCreate(external_id=f"{label}-{uuid.uuid4().hex[:10]}"), source="test", task_queue=f"{label}-test"
    )
    await session.execute(
        text("UPDATE members SET created_at = :at WHERE id = :id"), {"at": at(joined), "id": member.id}
    )
    return member.id


async def placed_order(session: AsyncSession, member_id: uuid.UUID, day: date, amount: str, *, label: str) -> uuid.UUID:
    """A completed order in CNY placed at 10:00 on `day`, ingested like the shop's (points, spend, tier)."""
    order = await orders.ingest(
        session,
        OrderCreate(
            external_id=f"o-{uuid.uuid4().hex[:10]}",
            member_id=member_id,
            amount=Decimal(amount),
            currency="CNY",
            placed_at=at(day, 10),
        ),
        task_queue=f"{label}-test",
    )
    return order.id


async def coupon_template(session: AsyncSession, code: str) -> uuid.UUID:
    template = CouponTemplate(code=code, name=code, kind="percent", value=Decimal("10"), validity_days=30)
    session.add(template)
    await session.flush()
    return template.id


async def issued_coupon(
    session: AsyncSession, template_id: uuid.UUID, member_id: uuid.UUID, day: date, redeemed: date | None = None
) -> None:
    """A coupon issued at noon on `day` (and redeemed at noon on `redeemed`, if given)."""
    session.add(
        Coupon(
            code=f"K{uuid.uuid4().hex[:12].upper()}",
            template_id=template_id,
            member_id=member_id,
            status="redeemed" if redeemed else "issued",
            issued_at=at(day),
            expires_at=at(day) + timedelta(days=30),
            redeemed_at=at(redeemed) if redeemed else None,
        )
    )
    await session.flush()


async def recorded_message(
    session: AsyncSession, member_id: uuid.UUID, day: date, channel: str, status: str, reason: str | None = None
) -> None:
    """A message row recorded at noon on `day`, as the send activity leaves it."""
    session.add(
        Message(
            message_key=f"kpi-{uuid.uuid4()}",
            member_id=member_id,
            channel=channel,
            template="welcome",
            category="marketing",
            status=status,
            reason=reason,
            sent_at=at(day) if status == "sent" else None,
            created_at=at(day),
        )
    )
    await session.flush()
