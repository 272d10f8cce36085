"""Registration from a published link (`/portal/join?src=store-sh-01`): a new member through the same sign-up
service as the API (services.intake.signups: points account, the `signed_up` journeys and rules), with the
link's source recorded in `members.source`, then a sign-in code sent to the address just given.

A `src` is kept only when it is a safe code (lower-case letters, digits, `-` and `_`), else the sign-up counts
as `direct`. An address that already belongs to a member makes no second member: that member is sent a code
instead, and the answer is the same redirect to the code page, so the page does not tell who is a member.
The sign-up and the code request are one transaction: past the code request limits, nothing is written.

A `ref` (a member's referral code, `/portal/join?ref=...`) links the new member to its owner; a refused
referral (services.referrals.linking) does not refuse the sign-up: the member is created without it, and
`Joined.referral_refused` names the reason for the page to show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, InvalidInput
from core.ids import uuid7
from core.settings import PortalSettings
from models import Member
from services import members, referrals
from services.intake import signups
from services.portal import profile, signin, sources

DIRECT = "direct"
CONSENT_SOURCE = "portal"


def source_code(raw: str | None) -> str:
    """The link's `src` when it is a safe code, else `direct`."""
    text = (raw or "").strip().lower()
    return text if sources.SOURCE_CODE.match(text) else DIRECT


@dataclass(frozen=True)
class Joined:
    request_id: uuid.UUID  # the sign-in code request the code page continues
    member_id: uuid.UUID | None  # the new member, or None when the address was already a member's
    referral_refused: str | None = None  # the refusal's code when the sign-up's referral code was refused


async def _existing(session: AsyncSession, email: str | None, phone: str | None) -> uuid.UUID | None:
    wanted: list[ColumnElement[bool]] = [Member.email.in_({email, email.lower()})] if email else []
    if phone:
        wanted.append(Member.phone == phone)
    if not wanted:
        return None
    stmt = select(Member.id).where(or_(*wanted), Member.erased_at.is_(None)).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


def _body(posted: dict[str, list[str]], *, locale: str, timezone: str) -> dict[str, Any]:
    def first(name: str) -> str:
        return (posted.get(name) or [""])[0].strip()

    body: dict[str, Any] = {
        "external_id": f"portal:{uuid7()}",
        "email": first("email") or None,
        "name": first("name") or None,
        "phone": first("phone").replace(" ", "").replace("-", "") or None,
        "locale": locale,
        "timezone": timezone,
        "consent": {"email": first("consent_email") == "on", "sms": first("consent_sms") == "on"},
    }
    return {name: value for name, value in body.items() if value is not None}


async def register(
    session: AsyncSession,
    posted: dict[str, list[str]],
    *,
    src: str,
    locale: str,
    client: str,
    secret: str,
    settings: PortalSettings,
    now: datetime,
    task_queue: str,
    ref: str | None = None,
) -> Joined:
    """Sign the visitor up (or find them) and send a sign-in code; profile.FormInvalid names every problem,
    signin.RateLimited past the code limits (the caller rolls back either way)."""
    body = _body(posted, locale=locale, timezone=settings.signup_timezone)
    problems: dict[str, str] = {}
    if "email" not in body:
        problems["email"] = profile.REQUIRED
    try:
        body["attributes"] = await profile.attributes_from(session, posted, {})
        data = members.MemberCreate.model_validate(body)
    except ValidationError as exc:
        raise profile.FormInvalid(problems | profile.problems_of(exc)) from exc
    if problems:
        raise profile.FormInvalid(problems)
    address = signin.parse_address(str(data.email))
    member_id = await _existing(session, str(data.email), data.phone)
    created, refused = None, None
    if member_id is None:
        try:
            member = await signups.register(
                session, data, source=CONSENT_SOURCE, task_queue=task_queue, signed_up_from=source_code(src)
            )
        except InvalidInput as exc:
            raise profile.FormInvalid(profile.problems_of(exc)) from exc
        created = member.id
        refused = await _link(session, member, ref) if ref else None
    request_id = await signin.request_code(
        session, address, source=client, secret=secret, settings=settings, now=now, task_queue=task_queue
    )
    return Joined(request_id, created, refused)


async def _link(session: AsyncSession, member: Member, ref: str) -> str | None:
    """Link the new member to the code's owner; the refusal's code when it is refused (nothing written)."""
    try:
        await referrals.link(session, member, ref)
    except AppError as exc:
        if not referrals.is_refusal(exc):
            raise
        return exc.code
    return None
