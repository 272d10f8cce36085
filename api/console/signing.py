"""HMAC signatures for the console (session cookies, CSRF tokens, flash messages)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from core.settings import Settings

# Without settings.secret_key the console signs with a key of this process: sessions end when it restarts.
_PROCESS_SECRET = secrets.token_bytes(32)


def _signing_key(settings: Settings) -> bytes:
    base = settings.secret_key.get_secret_value().encode() if settings.secret_key else _PROCESS_SECRET
    # A key of its own, so a console signature can never pass for an unsubscribe token and vice versa.
    return hmac.new(base, b"memberflow console session v1", hashlib.sha256).digest()


def mac(settings: Settings, message: str) -> str:
    digest = hmac.new(_signing_key(settings), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(settings: Settings, message: str, signature: str) -> bool:
    return hmac.compare_digest(signature, mac(settings, message))
