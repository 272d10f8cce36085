"""Sign-up: a new member, their points account and the journeys that `signed_up` starts, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member
from services import challenges, journeys, members, referrals
from services.loyalty import ledger
from services.platform import audit
from services.platform.audit import Actor

ReferralCodeField = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class MemberSignUp(members.MemberCreate):
    """A sign-up as the API takes it: the member, and the referral code of the member who invited them."""

    referral_code: ReferralCodeField | None = None

    def member(self) -> members.MemberCreate:
        fields = {name: getattr(self, name) for name in members.MemberCreate.model_fields}
        return members.MemberCreate.model_construct(**fields)


async def register(
    session: AsyncSession,
    data: members.MemberCreate,
    *,
    source: str,
    task_queue: str,
    joined_at: datetime | None = None,
    actor: Actor | None = None,
    signed_up_from: str | None = None,
    referral_code: str | None = None,
) -> Member:
    """Create a member with a points account, and queue the welcome journey in the same transaction.

    `joined_at` (not exposed over HTTP) backdates the sign-up by hours or days, for the demo's members of
    the last week; members of long ago come in through the history import (services.imports) instead.

    Audited as `member.create` when a person signs the member up (`actor`); the shop's sign-ups pass none.
    `signed_up_from` is the portal registration link's source code (members.source). With a `referral_code`
    the member is linked to its owner, or the sign-up fails with the refusal (services.referrals.linking), and
    the caller's rollback leaves nothing."""
    member = await members.create(session, data, source=source, joined_at=joined_at, signed_up_from=signed_up_from)
    await ledger.open_member_account(session, member.id)
    await journeys.on_event(session, member, "signed_up", task_queue=task_queue)
    if referral_code is not None:
        await referrals.link(session, member, referral_code)
    await challenges.on_signup(session, member, task_queue=task_queue)
    if actor is not None:
        await audit.record(session, actor, action="member.create", target_type="member", target_id=str(member.id))
    return member
