"""Linking a new member to the member whose referral code they signed up with, or refusing with a reason.

The refusals, each with its code: a code that is no member's (`referral_code_unknown`, 422), the referee's
normalised email or phone equal to the referrer's (`referral_self`, 422), an email or phone an earlier referee
of any referrer already used (`referral_contact_used`, 409), the referrer's links this calendar month (UTC) at
the programme's limit (`referral_limit_reached`, 409), the programme switched off (`referral_programme_inactive`,
409). A refusal raises before anything is written, so the caller decides: the API refuses the whole sign-up, the
portal keeps the member and says why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, Conflict, InvalidInput
from core.ids import uuid7
from models import Member, Referral
from services import members
from services.referrals import codes, programme

FIELD = "body.referral_code"
REFUSALS = frozenset(
    {
        "referral_code_unknown",
        "referral_self",
        "referral_contact_used",
        "referral_limit_reached",
        "referral_programme_inactive",
    }
)


def is_refusal(exc: AppError) -> bool:
    return exc.code in REFUSALS


def _unknown() -> InvalidInput:
    return InvalidInput(
        "no member has this referral code",
        code="referral_code_unknown",
        details=[{"field": FIELD, "message": "no member has this referral code"}],
    )


def _month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _same(left: str | None, right: str | None) -> bool:
    return left is not None and left == right


def _check_not_self(referrer: Member, referee: Member) -> None:
    email = codes.normal_email(referee.email)
    phone = codes.normal_phone(referee.phone)
    if (
        referrer.id == referee.id
        or _same(email, codes.normal_email(referrer.email))
        or _same(phone, codes.normal_phone(referrer.phone))
    ):
        raise InvalidInput(
            "a member cannot refer themselves: this email or phone is the referrer's own",
            code="referral_self",
            details=[{"field": FIELD, "message": "the referee's email or phone is the referrer's"}],
        )


def _contact_used(field: str) -> Conflict:
    return Conflict(
        f"this {field} was already used by an earlier referee",
        code="referral_contact_used",
        details=[{"field": f"body.{field}", "message": "already used by an earlier referee"}],
    )


async def _check_contacts_unused(session: AsyncSession, email: bytes | None, phone: bytes | None) -> None:
    wanted = [column == value for column, value in ((Referral.email_digest, email), (Referral.phone_digest, phone))]
    present = [clause for clause, value in zip(wanted, (email, phone), strict=True) if value is not None]
    if not present:
        return
    rows = (await session.execute(select(Referral.email_digest, Referral.phone_digest).where(or_(*present)))).all()
    for row in rows:
        if email is not None and row.email_digest == email:
            raise _contact_used("email")
        if phone is not None and row.phone_digest == phone:
            raise _contact_used("phone")


async def _check_monthly_limit(session: AsyncSession, referrer_id: uuid.UUID, limit: int, now: datetime) -> None:
    made = (
        await session.execute(
            select(func.count())
            .select_from(Referral)
            .where(Referral.referrer_id == referrer_id, Referral.created_at >= _month_start(now))
        )
    ).scalar_one()
    if made >= limit:
        raise Conflict(
            f"this member has referred {made} new members this month, the programme's limit",
            code="referral_limit_reached",
            details=[{"field": FIELD, "message": f"the referrer reached the limit of {limit} this month"}],
        )


async def link(session: AsyncSession, referee: Member, raw_code: str, *, now: datetime | None = None) -> Referral:
    """Link `referee` (just created, in this transaction) to the owner of `raw_code`, or raise a refusal."""
    now = now or datetime.now(UTC)
    code = codes.normalise(raw_code)
    if code is None:
        raise _unknown()
    settings = await programme.get(session)
    if not settings.active:
        raise Conflict(
            "the referral programme is switched off",
            code="referral_programme_inactive",
            details=[{"field": FIELD, "message": "referrals are not taken at the moment"}],
        )
    referrer_id = await codes.referrer_of_code(session, code, lock=True)
    referrer = await members.get(session, referrer_id) if referrer_id is not None else None
    if referrer is None or referrer.erased_at is not None:
        raise _unknown()
    _check_not_self(referrer, referee)
    email = codes.contact_digest("email", codes.normal_email(referee.email))
    phone = codes.contact_digest("phone", codes.normal_phone(referee.phone))
    await _check_contacts_unused(session, email, phone)
    await _check_monthly_limit(session, referrer.id, settings.monthly_limit, now)
    made = (
        await session.execute(
            insert(Referral)
            .values(
                id=uuid7(),
                referrer_id=referrer.id,
                referee_id=referee.id,
                code=code,
                status="linked",
                email_digest=email,
                phone_digest=phone,
                referrer_points=0,
                referee_points=0,
            )
            .on_conflict_do_nothing()
            .returning(Referral)
        )
    ).scalar_one_or_none()
    if made is None:  # a concurrent sign-up with the same address linked first
        raise _contact_used("email" if email is not None else "phone")
    return made
