"""Consent per channel: signed unsubscribe links, opting out through them, and SMS STOP replies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError
from models import Member
from services.messaging.templates import Channel

_TOKEN_CONTEXT = b"memberflow-unsubscribe\x00"
_MAC_BYTES = 32
_UUID_BYTES = 16

# Replies that opt a phone number out of SMS: carriers' usual keywords ("T"/"TD" as in 回T退订).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "T", "TD", "退订"})


class OptOutSource(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    SMS_STOP = "sms_stop"


class InvalidUnsubscribeToken(AppError):
    code = "invalid_unsubscribe_token"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), _TOKEN_CONTEXT + payload, hashlib.sha256).digest()


def unsubscribe_token(secret: str, member_id: uuid.UUID, channel: Channel) -> str:
    """URL-safe: the member id and channel, then their HMAC-SHA256. It does not expire: an unsubscribe link
    in an old email must keep working."""
    payload = member_id.bytes + channel.value.encode()
    return _b64(payload + _mac(secret, payload))


def verify_unsubscribe_token(secret: str | None, token: str) -> tuple[uuid.UUID, Channel]:
    bad = InvalidUnsubscribeToken("this unsubscribe link is not valid; copy the whole link from the message")
    if not secret or len(token) > 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if len(payload) <= _UUID_BYTES or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise bad
    try:
        return uuid.UUID(bytes=payload[:_UUID_BYTES]), Channel(payload[_UUID_BYTES:].decode())
    except ValueError:
        raise bad from None


def unsubscribe_url(public_url: str, secret: str, member_id: uuid.UUID, channel: Channel) -> str:
    return f"{public_url.rstrip('/')}/u/{unsubscribe_token(secret, member_id, channel)}"


def _consent_column(channel: Channel) -> Any:
    return Member.consent_email if channel == Channel.EMAIL else Member.consent_sms


def _opt_out_values(channel: Channel, source: OptOutSource, now: datetime) -> dict[str, Any]:
    return {f"consent_{channel}": False, f"consent_{channel}_at": now, f"consent_{channel}_source": source.value}


async def opt_out(
    session: AsyncSession, member_id: uuid.UUID, channel: Channel, *, source: OptOutSource, now: datetime
) -> bool:
    """Withdraw a member's consent for a channel; False when it already was (nothing changes, so the first
    opt-out keeps its time and source)."""
    changed = (
        await session.execute(
            update(Member)
            .where(Member.id == member_id, _consent_column(channel).is_(True))
            .values(_opt_out_values(channel, source, now))
            .returning(Member.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    return changed is not None


@dataclass(frozen=True)
class Unsubscribed:
    channel: Channel
    # The member's locale, for the confirmation page ("en" if the member is unknown).
    locale: str
    # False when the member had already opted out: the link is idempotent.
    changed: bool


async def unsubscribe(session: AsyncSession, secret: str | None, token: str, *, now: datetime) -> Unsubscribed:
    """Follow an unsubscribe link: verify its signature, then opt the member out of its channel."""
    member_id, channel = verify_unsubscribe_token(secret, token)
    changed = await opt_out(session, member_id, channel, source=OptOutSource.UNSUBSCRIBE, now=now)
    locale = (await session.execute(select(Member.locale).where(Member.id == member_id))).scalar_one_or_none()
    return Unsubscribed(channel=channel, locale=locale or "en", changed=changed)


def is_stop(text: str) -> bool:
    return text.strip().strip(".!。！ ").upper() in STOP_WORDS


async def handle_inbound_sms(session: AsyncSession, sender: str, text: str, *, now: datetime) -> int:
    """A reply to our SMS: a STOP keyword opts out every member with that phone number. Returns how many
    were opted out (0 for any other text, or when they already were)."""
    if not is_stop(text):
        return 0
    rows = await session.execute(
        update(Member)
        .where(Member.phone == sender.strip(), Member.consent_sms.is_(True))
        .values(_opt_out_values(Channel.SMS, OptOutSource.SMS_STOP, now))
        .returning(Member.id)
        .execution_options(synchronize_session=False)
    )
    return len(rows.all())
