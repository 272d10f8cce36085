"""Referral codes and the join link that carries one: a short code per member, made the first time it is
needed, and the keyed digests of a referee's contact details that let the same address be a referee once.

Codes are eight symbols from an alphabet without 0/O and 1/I (as coupon codes are), so one read aloud or
copied from a poster is unambiguous; typed input is normalised (case, spaces, dashes) before it is looked up."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from models import ReferralCode
from services.platform import signed

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
# What a typed code may look like before normalising: the alphabet in any case, with spaces or dashes.
CODE_PATTERN = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
MAX_TYPED = 32
_DIGEST_LABEL = "referral contact"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(raw: str | None) -> str | None:
    """The code as stored (upper case, no spaces or dashes), or None when it cannot be a code at all."""
    if raw is None or len(raw) > MAX_TYPED:
        return None
    text = re.sub(r"[\s-]", "", raw).upper()
    return text if CODE_PATTERN.match(text) else None


async def code_of(session: AsyncSession, member_id: uuid.UUID) -> str | None:
    stmt = select(ReferralCode.referral_code).where(ReferralCode.member_id == member_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def ensure_code(session: AsyncSession, member_id: uuid.UUID) -> str:
    """The member's code, made now if they have none. Two first views at once make one code: the second
    insert finds the member's row and reads the first one's code."""
    existing = await code_of(session, member_id)
    if existing is not None:
        return existing
    for _ in range(5):
        made = (
            await session.execute(
                insert(ReferralCode)
                .values(member_id=member_id, referral_code=new_code())
                .on_conflict_do_nothing()
                .returning(ReferralCode.referral_code)
            )
        ).scalar_one_or_none()
        if made is not None:
            return made
        existing = await code_of(session, member_id)
        if existing is not None:
            return existing
    raise RuntimeError("could not draw an unused referral code in 5 attempts")


async def referrer_of_code(session: AsyncSession, code: str, *, lock: bool = False) -> uuid.UUID | None:
    """The member whose code this is; `lock` holds their code row, which serialises links to one referrer
    (so the monthly limit holds under concurrent sign-ups) without locking the member row orders use."""
    stmt = select(ReferralCode.member_id).where(ReferralCode.referral_code == code)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def join_link(code: str, *, public_url: str | None = None) -> str:
    """The portal's join page with the code (`/portal/join?ref=...`), on the public address messages use."""
    base = (public_url or get_settings().messaging.public_url).rstrip("/")
    return f"{base}/portal/join?{urlencode({'ref': code})}"


def normal_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def normal_phone(phone: str | None) -> str | None:
    return re.sub(r"[\s().-]", "", phone) if phone else None


def contact_digest(kind: str, value: str | None) -> bytes | None:
    """A keyed hash of a normalised email or phone (settings.secret_key); without a secret configured, a
    labelled SHA-256, which still tells two referees apart but can be recomputed from a guessed address."""
    if not value:
        return None
    secret = get_settings().secret_key
    text = f"{kind}:{value}"
    if secret is None or not secret.get_secret_value():
        return hashlib.sha256(f"memberflow {_DIGEST_LABEL}|{text}".encode()).digest()
    return signed.keyed_hash(secret.get_secret_value(), _DIGEST_LABEL, text)
