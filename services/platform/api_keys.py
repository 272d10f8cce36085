"""API keys with roles. The secret is shown once at creation; only its SHA-256 hash is stored.

Authentication is on every API request, so active keys are cached in the process by hash for
`KEY_CACHE_TTL` seconds (`authenticate_cached`). A revocation clears this process's cache at once (again
after its commit, so a lookup racing the revocation cannot put the key back) and sends a PostgreSQL
NOTIFY on `REVOKED_CHANNEL`, which the other API processes listen for (`api.keywatch`); if a listener is
down, the TTL bounds how long another process may still accept a revoked key."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from core.errors import NotFound, Unauthorized
from models import ApiKey

KEY_PREFIX = "mf_"
BOOTSTRAP_NAME = "bootstrap-admin"
KEY_CACHE_TTL = 30.0
REVOKED_CHANNEL = "memberflow_api_keys_revoked"
_CACHE_LIMIT = 10_000


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    APPROVER = "approver"
    OPS = "ops"
    INTEGRATION = "integration"


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _display_prefix(secret: str) -> str:
    return secret[:10]


async def create(
    session: AsyncSession, *, name: str, role: Role, source: str = "api", personal_data: bool | None = None
) -> IssuedKey:
    """A new key. `personal_data` (may read unmasked personal data) defaults to true for admin keys only."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role.value,
        key_hash=hash_secret(secret),
        prefix=_display_prefix(secret),
        source=source,
        personal_data=role is Role.ADMIN if personal_data is None else personal_data,
    )
    session.add(key)
    await session.flush()
    return IssuedKey(key=key, secret=secret)


class KeyCache:
    """Active keys by hash, each for `ttl` seconds. `clear` bumps a generation, so a lookup that started
    before a revocation (and may have read the key as still active) cannot store it afterwards."""

    def __init__(self, ttl: float = KEY_CACHE_TTL) -> None:
        self.ttl = ttl
        self.generation = 0
        self._entries: dict[str, tuple[float, ApiKey]] = {}

    def get(self, digest: str) -> ApiKey | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: str, key: ApiKey, *, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._entries) >= _CACHE_LIMIT:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, key)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


KEYS = KeyCache()


async def _active(session: AsyncSession, digest: str) -> ApiKey:
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
    ).scalar_one_or_none()
    if key is None:
        raise Unauthorized("the API key is not valid or was revoked", code="invalid_api_key")
    return key


async def authenticate(session: AsyncSession, secret: str) -> ApiKey:
    """The active key for `secret`, read from the database (the console's sign-in)."""
    return await _active(session, hash_secret(secret))


async def authenticate_cached(sessions: async_sessionmaker[AsyncSession], secret: str) -> ApiKey:
    """The active key for `secret`: from the cache, or read in a short session of its own and cached. The
    key returned is detached and shared by concurrent requests: read it, never add it to a session."""
    digest = hash_secret(secret)
    key = KEYS.get(digest)
    if key is not None:
        return key
    generation = KEYS.generation
    async with sessions() as session:
        key = await _active(session, digest)
        session.expunge(key)
    KEYS.put(digest, key, generation=generation)
    return key


def _forget_keys(session: AsyncSession) -> None:
    """Clear the cache now and again when `session` commits, and tell the other processes at commit."""
    KEYS.clear()
    event.listen(session.sync_session, "after_commit", _clear_after_commit, once=True)


def _clear_after_commit(_: Session) -> None:
    KEYS.clear()


async def _notify_revoked(session: AsyncSession) -> None:
    # NOTIFY is transactional: the other processes hear it only once the revocation has committed.
    await session.execute(select(func.pg_notify(REVOKED_CHANNEL, "revoked")))


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.created_at))).scalars().all())


async def revoke(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = func.now()
        await session.flush()
        await session.refresh(key)
        _forget_keys(session)
        await _notify_revoked(session)
    return key


_BOOTSTRAP_LOCK = 0x6D66_6B65_79  # "mfkey": one advisory lock id for the bootstrap key


async def ensure_bootstrap_admin(session: AsyncSession, secret: str) -> bool:
    """Make `secret` a valid admin key (from MEMBERFLOW_ADMIN_KEY), revoking an earlier bootstrap key that
    no longer matches, so rotating the variable retires the old value. Returns True if a key was added."""
    if len(secret) < 16:
        raise ValueError("MEMBERFLOW_ADMIN_KEY must be at least 16 characters")
    digest = hash_secret(secret)
    # Every API process runs this at startup on the same database: serialise them, or two inserts of the same
    # key race and the loser's process (and with it uvicorn's whole group) fails to start.
    await session.execute(select(func.pg_advisory_xact_lock(_BOOTSTRAP_LOCK)))
    _forget_keys(session)
    await _notify_revoked(session)
    await session.execute(
        update(ApiKey)
        .where(ApiKey.source == "bootstrap", ApiKey.key_hash != digest, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    existing = (await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))).scalar_one_or_none()
    if existing is not None:
        existing.revoked_at = None
        existing.role = Role.ADMIN.value
        existing.personal_data = True
        await session.flush()
        return False
    session.add(
        ApiKey(
            name=BOOTSTRAP_NAME,
            role=Role.ADMIN.value,
            key_hash=digest,
            prefix=_display_prefix(secret),
            source="bootstrap",
            personal_data=True,
        )
    )
    await session.flush()
    return True
