"""Sign-up: a new member, their points account and the journeys that `signed_up` starts, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import Member
from services import journeys, members
from services.loyalty import ledger


async def register(
    session: AsyncSession,
    data: members.MemberCreate,
    *,
    source: str,
    task_queue: str,
    joined_at: datetime | None = None,
) -> Member:
    """Create a member with a points account, and queue the welcome journey in the same transaction.

    `joined_at` (not exposed over HTTP) backdates the sign-up by hours or days, for the demo's members of
    the last week; members of long ago come in through the history import (services.imports) instead."""
    member = await members.create(session, data, source=source, joined_at=joined_at)
    await ledger.open_member_account(session, member.id)
    await journeys.on_event(session, member, "signed_up", task_queue=task_queue)
    return member
