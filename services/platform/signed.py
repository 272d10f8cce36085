"""Signed, short-lived member links and one-time sign-in codes, derived from settings.secret_key.

Each use gets a key of its own (HMAC of the secret with a label), so a portal link can never pass for an
unsubscribe token or a console cookie. Here, in the platform layer, because messaging renders the links into
its messages and the portal checks them, and the portal sits above messaging.

A sign-in code is derived from its request's id (HMAC, six digits), so the send activity can put it into the
message without the code ever travelling through a workflow's input or history; the portal keeps only its
hash and compares against that."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from core.errors import AppError

_VERSION = b"\x01"
_MAC_BYTES = 32
_HEAD_BYTES = 1 + 16 + 8  # version, member id, expiry (unix seconds)
MAX_TOKEN_CHARS = 300
CODE_DIGITS = 6


class InvalidLink(AppError):
    code = "invalid_link"


class ExpiredLink(AppError):
    code = "link_expired"


def _key(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode(), f"memberflow {label} v1".encode(), hashlib.sha256).digest()


def keyed_hash(secret: str, label: str, value: str) -> bytes:
    """A hash of `value` nobody without the secret can recompute from a guessed value (an address, an IP)."""
    return hmac.new(_key(secret, label), value.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign_link(secret: str, member_id: uuid.UUID, purpose: str, expires_at: datetime) -> str:
    """URL-safe: version, member id, expiry and purpose, then their HMAC-SHA256."""
    payload = _VERSION + member_id.bytes + int(expires_at.timestamp()).to_bytes(8, "big") + purpose.encode()
    return _b64(payload + hmac.new(_key(secret, "member link"), payload, hashlib.sha256).digest())


def verify_link(secret: str | None, token: str, purpose: str, *, now: datetime) -> uuid.UUID:
    """The member id of a link that is whole, ours, for `purpose` and not expired; InvalidLink or ExpiredLink
    otherwise (never anything else, whatever the token holds)."""
    bad = InvalidLink("this link is not valid: open the whole link from the message, or sign in with a code")
    if not secret or len(token) > MAX_TOKEN_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    expected = hmac.new(_key(secret, "member link"), payload, hashlib.sha256).digest()
    if len(payload) <= _HEAD_BYTES or payload[:1] != _VERSION or not hmac.compare_digest(mac, expected):
        raise bad
    if payload[_HEAD_BYTES:] != purpose.encode():
        raise bad
    expires = datetime.fromtimestamp(int.from_bytes(payload[17:_HEAD_BYTES], "big"), UTC)
    if expires <= now:
        raise ExpiredLink("this link has expired: sign in with a code, or ask for a new message")
    return uuid.UUID(bytes=payload[1:17])


def sign_in_code(secret: str, request_id: uuid.UUID) -> str:
    """The six-digit code of one sign-in request."""
    digest = hmac.new(_key(secret, "portal sign-in code"), request_id.bytes, hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def code_hash(secret: str, request_id: uuid.UUID, code: str) -> bytes:
    """What the database keeps of a code: bound to its request, so equal codes of two requests differ."""
    return hmac.new(_key(secret, "portal code hash"), request_id.bytes + code.encode(), hashlib.sha256).digest()
