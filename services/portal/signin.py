"""Portal sign-in by one-time code: ask for a code by email address or phone, then enter it.

Every request writes a row, whether or not the address is a member's (then no code can match it), and answers
the same, so the portal does not tell who is a member. A member's request also records, in the same
transaction, the start of the workflow that sends the code as a transactional message (outbox); the code is
derived from the row's id (services.platform.signed) and only its hash is stored. Requests are limited per
address and per source (the caller's IP) in a rolling window; a code lives `code_minutes` and a wrong entry
spends one of `code_attempts`. Services never commit: the portal's route commits, also after a wrong code, so
the attempt counts."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import AppError, InvalidInput
from core.settings import PortalSettings
from models import Member, PortalSignInCode
from services.platform import outbox, signed
from workflows import contracts

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_PHONE_NOISE = re.compile(r"[\s().-]")
CODE = re.compile(r"^[0-9]{6}$")


class RateLimited(AppError):
    status_code = 429
    code = "too_many_code_requests"


class CodeRejected(AppError):
    """A code that does not sign in: `code` says why (wrong, expired, used up); `left` how many tries remain."""

    status_code = 422

    def __init__(self, message: str, *, code: str, left: int = 0) -> None:
        super().__init__(message, code=code)
        self.left = left


@dataclass(frozen=True)
class Address:
    channel: str  # email or sms
    value: str  # normalised: lower-case email, phone without spaces or dashes
    typed: str  # as the member typed it (trimmed): an email stored with capitals is found by either


def parse_address(raw: str) -> Address:
    """An email address or a phone number as the member typed it; InvalidInput naming the field otherwise."""
    text = raw.strip()
    if "@" in text:
        if _EMAIL.match(text):
            return Address("email", text.lower(), text)
    else:
        phone = _PHONE_NOISE.sub("", text)
        if _PHONE.match(phone):
            return Address("sms", phone, phone)
    message = "enter your email address or your mobile number"
    raise InvalidInput(message, code="invalid_address", details=[{"field": "address", "message": message}])


async def _member_for(session: AsyncSession, address: Address) -> uuid.UUID | None:
    """The newest member (not erased) with this address, by its index (two spellings of an email)."""
    if address.channel == "email":
        stmt = select(Member.id).where(Member.email.in_({address.value, address.typed}))
    else:
        stmt = select(Member.id).where(Member.phone == address.value)
    stmt = stmt.where(Member.erased_at.is_(None)).order_by(Member.created_at.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _recent(session: AsyncSession, column: InstrumentedAttribute[bytes], value: bytes, since: datetime) -> int:
    stmt = select(func.count()).where(column == value, PortalSignInCode.created_at > since)
    return int((await session.execute(stmt)).scalar_one())


async def _check_limits(
    session: AsyncSession, address_hash: bytes, source_hash: bytes, *, now: datetime, settings: PortalSettings
) -> None:
    # Serialise one address's requests, so two at once cannot both pass its limit.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"portal:{address_hash.hex()}", 0))))
    since = now - timedelta(minutes=settings.request_window_minutes)
    too_many = RateLimited(
        f"too many codes were asked for; wait {settings.request_window_minutes} minutes and try again"
    )
    if await _recent(session, PortalSignInCode.address_hash, address_hash, since) >= settings.requests_per_address:
        raise too_many
    if await _recent(session, PortalSignInCode.source_hash, source_hash, since) >= settings.requests_per_source:
        raise too_many


async def request_code(
    session: AsyncSession,
    address: Address,
    *,
    source: str,
    secret: str,
    settings: PortalSettings,
    now: datetime,
    task_queue: str,
) -> uuid.UUID:
    """Record a code request and, for a member's address, the send of its code; the request's id either way."""
    address_hash = signed.keyed_hash(secret, "portal address", f"{address.channel}:{address.value}")
    source_hash = signed.keyed_hash(secret, "portal source", source)
    await _check_limits(session, address_hash, source_hash, now=now, settings=settings)
    member_id = await _member_for(session, address)
    request_id = uuid.uuid4()
    # For an unknown address a hash of a random code nobody is sent, and no member to sign in: nothing matches.
    code = signed.sign_in_code(secret, request_id) if member_id else secrets.token_hex(8)
    session.add(
        PortalSignInCode(
            id=request_id,
            member_id=member_id,
            channel=address.channel,
            address_hash=address_hash,
            source_hash=source_hash,
            code_hash=signed.code_hash(secret, request_id, code),
            attempts=0,
            expires_at=now + timedelta(minutes=settings.code_minutes),
            created_at=now,
        )
    )
    await session.flush()
    if member_id is not None:
        inp = contracts.PortalCodeInput(request_id=str(request_id), member_id=str(member_id), channel=address.channel)
        await outbox.enqueue_start(session, contracts.portal_code_start(inp, task_queue=task_queue))
    return request_id


async def verify_code(
    session: AsyncSession, request_id: uuid.UUID, code: str, *, secret: str, settings: PortalSettings, now: datetime
) -> uuid.UUID:
    """The member a right, fresh code signs in (the request is spent); CodeRejected otherwise, after counting
    the attempt. A malformed entry is refused before it counts."""
    entered = code.strip().replace(" ", "")
    if not CODE.match(entered):
        raise InvalidInput(
            "enter the 6-digit code from the message",
            code="invalid_code",
            details=[{"field": "code", "message": "6 digits"}],
        )
    stmt = select(PortalSignInCode).where(PortalSignInCode.id == request_id).with_for_update()
    row = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None or row.used_at is not None:
        raise CodeRejected("this code was already used or does not exist: ask for a new one", code="code_used")
    if row.expires_at <= now:
        raise CodeRejected("this code has expired: ask for a new one", code="code_expired")
    if row.attempts >= settings.code_attempts:
        raise CodeRejected("too many wrong codes: ask for a new one", code="code_attempts_exhausted")
    right = secrets.compare_digest(row.code_hash, signed.code_hash(secret, row.id, entered))
    if not right or row.member_id is None:
        row.attempts += 1
        left = settings.code_attempts - row.attempts
        await session.flush()
        if left <= 0:
            raise CodeRejected("too many wrong codes: ask for a new one", code="code_attempts_exhausted")
        raise CodeRejected("that code is not right", code="code_wrong", left=left)
    row.used_at = now
    await session.flush()
    return row.member_id
