"""API keys with roles. The secret is shown once at creation; only its SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound, Unauthorized
from models import ApiKey

KEY_PREFIX = "mf_"
BOOTSTRAP_NAME = "bootstrap-admin"


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


async def create(session: AsyncSession, *, name: str, role: Role, source: str = "api") -> IssuedKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name, role=role.value, key_hash=hash_secret(secret), prefix=_display_prefix(secret), source=source
    )
    session.add(key)
    await session.flush()
    return IssuedKey(key=key, secret=secret)


async def authenticate(session: AsyncSession, secret: str) -> ApiKey:
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret), ApiKey.revoked_at.is_(None)))
    ).scalar_one_or_none()
    if key is None:
        raise Unauthorized("the API key is not valid or was revoked", code="invalid_api_key")
    return key


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
    return key


async def ensure_bootstrap_admin(session: AsyncSession, secret: str) -> bool:
    """Make `secret` a valid admin key (from MEMBERFLOW_ADMIN_KEY), revoking an earlier bootstrap key that
    no longer matches, so rotating the variable retires the old value. Returns True if a key was added."""
    if len(secret) < 16:
        raise ValueError("MEMBERFLOW_ADMIN_KEY must be at least 16 characters")
    digest = hash_secret(secret)
    await session.execute(
        update(ApiKey)
        .where(ApiKey.source == "bootstrap", ApiKey.key_hash != digest, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    existing = (await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))).scalar_one_or_none()
    if existing is not None:
        existing.revoked_at = None
        existing.role = Role.ADMIN.value
        await session.flush()
        return False
    session.add(
        ApiKey(
            name=BOOTSTRAP_NAME,
            role=Role.ADMIN.value,
            key_hash=digest,
            prefix=_display_prefix(secret),
            source="bootstrap",
        )
    )
    await session.flush()
    return True
