"""Portal sessions: a random token in the member's cookie, its SHA-256 in `portal_sessions`, so signing out
(or erasing the member, which deletes the rows) ends a session on the server, whatever the browser keeps."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, PortalSession

MAX_TOKEN_CHARS = 100


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(session: AsyncSession, member_id: uuid.UUID, *, method: str, now: datetime, days: int) -> str:
    """A new session for the member; the token for the cookie (the only place it exists in clear)."""
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            token_hash=_hash(token),
            member_id=member_id,
            method=method,
            expires_at=now + timedelta(days=days),
            created_at=now,
        )
    )
    await session.flush()
    return token


async def member_of(session: AsyncSession, token: str | None, *, now: datetime) -> uuid.UUID | None:
    """The member a cookie's token signs in: the session open, not expired, the member not erased."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    stmt = (
        select(PortalSession.member_id)
        .join(Member, Member.id == PortalSession.member_id)
        .where(
            PortalSession.token_hash == _hash(token),
            PortalSession.revoked_at.is_(None),
            PortalSession.expires_at > now,
            Member.erased_at.is_(None),
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke(session: AsyncSession, token: str, *, now: datetime) -> bool:
    """End the token's session; False when it was not open."""
    ended = await session.execute(
        update(PortalSession)
        .where(PortalSession.token_hash == _hash(token), PortalSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(PortalSession.id)
        .execution_options(synchronize_session=False)
    )
    return ended.scalar_one_or_none() is not None
