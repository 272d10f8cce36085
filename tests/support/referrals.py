"""Helpers for the referral tests: the programme set for one test and put back after (it is one global row),
members with contact details of their own, a member's code, a referral's row and the points it paid."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import LedgerTransaction, Referral, ReferralProgramme
from services import referrals
from services.loyalty import invariants
from services.platform.audit import Actor
from tests.support.helpers import ApiClient, member_body

Sessions = async_sessionmaker[AsyncSession]
FIELDS = (
    "active return_window_days monthly_limit referrer_reward referrer_points referrer_coupon referee_reward "
    "referee_points referee_coupon"
).split()
TEST_ACTOR = Actor.system("referral-tests")


def unique_contact() -> dict[str, str]:
    """An email and a phone no other test uses (the shared member body's phone is the same for everyone)."""
    return {"email": f"ref-{uuid.uuid4().hex[:10]}@example.com", "phone": f"+86139{secrets.randbelow(10**8):08d}"}


@asynccontextmanager
async def programme_set(sessions: Sessions, **values: Any) -> AsyncIterator[referrals.ProgrammeUpdate]:
    """The programme with `values` over a known base for the test's span; what was there before comes back."""
    async with sessions() as session:
        row = await referrals.get(session)
        before = {name: getattr(row, name) for name in FIELDS}
        wanted = referrals.ProgrammeUpdate.model_validate(
            {
                "active": True,
                "return_window_days": 14,
                "monthly_limit": 10,
                "referrer_reward": "points",
                "referrer_points": 500,
                "referee_reward": "points",
                "referee_points": 200,
                **values,
            }
        )
        await referrals.update(session, wanted, actor=TEST_ACTOR)
        await session.commit()
    try:
        yield wanted
    finally:
        async with sessions() as session:
            await referrals.update(session, referrals.ProgrammeUpdate.model_validate(before), actor=TEST_ACTOR)
            await session.commit()


async def code_of(sessions: Sessions, member_id: str) -> str:
    async with sessions() as session:
        code = await referrals.ensure_code(session, uuid.UUID(member_id))
        await session.commit()
        return code


async def sign_up(client: ApiClient, code: str | None, **overrides: Any) -> Any:
    """POST /api/v1/members with the code (and fresh contact details unless given): the response."""
    body = member_body(**{**unique_contact(), **overrides})
    if code is not None:
        body["referral_code"] = code
    return await client.post("/api/v1/members", json=body)


async def referral_of(sessions: Sessions, referee_id: str) -> Referral | None:
    async with sessions() as session:
        return (
            await session.execute(select(Referral).where(Referral.referee_id == uuid.UUID(referee_id)))
        ).scalar_one_or_none()


async def referral_postings(sessions: Sessions, referral_id: uuid.UUID) -> int:
    """The ledger transactions the referral paid (one per side rewarded with points)."""
    async with sessions() as session:
        stmt = select(func.count()).where(
            LedgerTransaction.reference_type == "referral", LedgerTransaction.reference_id == str(referral_id)
        )
        return int((await session.execute(stmt)).scalar_one())


async def ledger_exact(sessions: Sessions) -> bool:
    async with sessions() as session:
        return (await invariants.check(session)).ok


async def programme_row(sessions: Sessions) -> ReferralProgramme:
    async with sessions() as session:
        return await referrals.get(session)
