"""Sign-up: a new member, their points account and the journeys that `signed_up` starts, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import Member
from services import challenges, journeys, members
from services.loyalty import ledger
from services.platform import audit
from services.platform.audit import Actor


async def register(
    session: AsyncSession,
    data: members.MemberCreate,
    *,
    source: str,
    task_queue: str,
    joined_at: datetime | None = None,
    actor: Actor | None = None,
    signed_up_from: str | None = None,
) -> Member:
    """Create a member with a points account, and queue the welcome journey in the same transaction.

    `joined_at` (not exposed over HTTP) backdates the sign-up by hours or days, for the demo's members of
    the last week; members of long ago come in through the history import (services.imports) instead.

    Audited as `member.create` when a person signs the member up (`actor`); the shop's sign-ups pass none.
    `signed_up_from` is the portal registration link's source code (members.source)."""
    member = await members.create(session, data, source=source, joined_at=joined_at, signed_up_from=signed_up_from)
    await ledger.open_member_account(session, member.id)
    await journeys.on_event(session, member, "signed_up", task_queue=task_queue)
    await challenges.on_signup(session, member, task_queue=task_queue)
    if actor is not None:
        await audit.record(session, actor, action="member.create", target_type="member", target_id=str(member.id))
    return member
