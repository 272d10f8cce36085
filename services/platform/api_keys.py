"""API keys with roles. The secret is shown once at creation; only its SHA-256 hash is stored.

Authentication is on every API request, so active keys are cached in the process by hash for
`KEY_CACHE_TTL` seconds (`authenticate_cached`). A revocation clears this process's cache at once (again
after its commit, so a lookup racing the revocation cannot put the key back) and sends a PostgreSQL
NOTIFY on `REVOKED_CHANNEL`, which the other API processes listen for (`api.keywatch`); if a listener is
down, the TTL bounds how long another process may still accept a revoked key.

A key may expire: its `expires_at` is checked on every request, cached or not, so a cached key stops working at
its expiry to the request. Uses are noted in memory (`USES`) and written as `last_used_at` by the API's
background task (api.key_usage) at most once a minute per key, never on the request itself.

Lookups go by the SHA-256 of the presented secret (a dict in the process, a unique index in PostgreSQL):
their timing depends on the digest, which an attacker cannot steer towards a stored one, never on how much of
the secret is right; the remaining differences between kinds of failure are padded by the API (api.auth_guard)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, bindparam, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound, Unauthorized
from models import ApiKey
from services.platform import audit
from services.platform.audit import Actor

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
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    source: str = "api",
    expires_at: datetime | None = None,
    personal_data: bool | None = None,
    actor: Actor | None = None,
) -> IssuedKey:
    """A new key; `expires_at` must lie in the future. Audited as `key.create` (name, role and expiry, never
    the secret) when an `actor` issues it (the command line and the bootstrap key pass none). `personal_data`
    (may reveal unmasked personal data) defaults to true for admin keys only."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput(
            "expires_at must be in the future",
            code="validation_error",
            details=[{"field": "body.expires_at", "message": "must be in the future"}],
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role.value,
        key_hash=hash_secret(secret),
        prefix=_display_prefix(secret),
        source=source,
        expires_at=expires_at,
        personal_data=role is Role.ADMIN if personal_data is None else personal_data,
    )
    session.add(key)
    await session.flush()
    if actor is not None:
        await _audit(session, actor, "create", key)
    return IssuedKey(key=key, secret=secret)


async def _audit(session: AsyncSession, actor: Actor, action: str, key: ApiKey) -> None:
    details = {"name": key.name, "role": key.role}
    if key.expires_at is not None:
        details["expires_at"] = key.expires_at.isoformat()
    await audit.record(
        session, actor, action=f"key.{action}", target_type="api_key", target_id=str(key.id), details=details
    )


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


def is_expired(key: ApiKey, now: datetime | None = None) -> bool:
    return key.expires_at is not None and key.expires_at <= (now or datetime.now(UTC))


def _unexpired(key: ApiKey) -> ApiKey:
    now = datetime.now(UTC)
    if is_expired(key, now):
        raise Unauthorized("the API key has expired", code="api_key_expired")
    USES.note(key.id, now)
    return key


async def authenticate(session: AsyncSession, secret: str) -> ApiKey:
    """The active, unexpired key for `secret`, read from the database (the console's sign-in)."""
    return _unexpired(await _active(session, hash_secret(secret)))


async def authenticate_cached(sessions: async_sessionmaker[AsyncSession], secret: str) -> ApiKey:
    """The active, unexpired key for `secret`: from the cache, or read in a short session of its own and
    cached. The key returned is detached and shared by concurrent requests: read it, never add it to a session.
    Expiry is checked on each call, so the cache's TTL never extends a key's life."""
    digest = hash_secret(secret)
    key = KEYS.get(digest)
    if key is not None:
        return _unexpired(key)
    generation = KEYS.generation
    async with sessions() as session:
        key = await _active(session, digest)
        session.expunge(key)
    KEYS.put(digest, key, generation=generation)
    return _unexpired(key)


class KeyUses:
    """When each key was last used in this process, until it is written. `due` hands out the uses of the keys
    this process has not written for `interval` seconds, so each key costs at most one write per interval."""

    def __init__(self) -> None:
        self._used: dict[uuid.UUID, datetime] = {}
        self._written: dict[uuid.UUID, float] = {}

    def note(self, key_id: uuid.UUID, when: datetime) -> None:
        if len(self._used) < _CACHE_LIMIT or key_id in self._used:
            self._used[key_id] = when

    def due(self, interval: float, *, now: float | None = None) -> dict[uuid.UUID, datetime]:
        now = time.monotonic() if now is None else now
        self._written = {k: t for k, t in self._written.items() if now - t < interval}
        due = {k: when for k, when in self._used.items() if k not in self._written}
        for key_id in due:
            del self._used[key_id]
            self._written[key_id] = now
        return due

    def pending(self) -> dict[uuid.UUID, datetime]:
        """Every use not yet written (at shutdown), whatever the interval."""
        pending, self._used = self._used, {}
        return pending


USES = KeyUses()


async def write_last_used(session: AsyncSession, uses: Mapping[uuid.UUID, datetime]) -> None:
    """Record `uses` as last_used_at; a later time already written (by another process) is kept."""
    if not uses:
        return
    table = cast(Table, ApiKey.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("key_id"))
        .values(last_used_at=func.greatest(table.c.last_used_at, bindparam("used_at")))
    )
    await session.execute(statement, [{"key_id": k, "used_at": when} for k, when in uses.items()])


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


async def revoke(session: AsyncSession, key_id: uuid.UUID, *, actor: Actor | None = None) -> ApiKey:
    """Revoke the key (again: nothing changes); audited as `key.revoke` when an `actor` revokes it."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = func.now()
        await session.flush()
        await session.refresh(key)
        _forget_keys(session)
        await _notify_revoked(session)
        if actor is not None:
            await _audit(session, actor, "revoke", key)
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
        existing.expires_at = None
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
