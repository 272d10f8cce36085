"""The audit log: actions people must account for (manual adjustments, definitions, decisions).

The service that performs an audited action writes its row itself, once, whoever calls it (the API, the
console, a workflow), from the `Actor` it is given; callers never write audit rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ApiKey, AuditEntry


class Via(StrEnum):
    API = "api"
    CONSOLE = "console"
    WORKFLOW = "workflow"
    SYSTEM = "system"  # the command line, demo data, seeding
    PORTAL = "portal"  # a member, signed in to the member portal


@dataclass(frozen=True)
class Actor:
    """Who acted (an API key's name, id and role; console users sign in with an API key) and through what.
    Plain values, so they stay readable after the session that loaded the key rolls back."""

    name: str
    key_id: uuid.UUID | None
    via: Via
    role: str | None = None

    @classmethod
    def of_key(cls, key: ApiKey, *, via: Via = Via.API) -> Actor:
        return cls(name=key.name, key_id=key.id, via=via, role=key.role)

    @classmethod
    def member(cls, member_id: uuid.UUID) -> Actor:
        """A member acting for themselves in the portal: named by id, never by name."""
        return cls(name=f"member:{member_id}", key_id=None, via=Via.PORTAL)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(name=name, key_id=None, via=Via.SYSTEM)


def person_or_none(key: ApiKey, *, via: Via = Via.API) -> Actor | None:
    """The key as an actor when a person holds it; None for the shop's integration key, whose calls to the
    routes it shares with people (sign-ups, profile updates, coupons) are its traffic, recorded in the rows
    they write and not in the audit log."""
    return None if key.role == "integration" else Actor.of_key(key, via=via)


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """One row: the actor's key and name in their columns, the channel as `details.via`."""
    entry = AuditEntry(
        actor_key_id=actor.key_id,
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details={**(details or {}), "via": actor.via.value},
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What `entries` narrows the log to; every field left None matches all."""

    action: str | None = None  # exact, or a prefix ending in "." (e.g. "journey.")
    actor: str | None = None
    actor_key_id: uuid.UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


async def entries(
    session: AsyncSession, where: AuditFilter, *, limit: int, after: uuid.UUID | None = None
) -> list[AuditEntry]:
    """Matching entries newest first (ids are time-ordered uuid7), up to `limit`, continuing after `after`."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if where.action is not None:
        prefix = where.action.endswith(".")
        stmt = stmt.where(
            AuditEntry.action.startswith(where.action, autoescape=True) if prefix else AuditEntry.action == where.action
        )
    for column, value in (
        (AuditEntry.actor, where.actor),
        (AuditEntry.actor_key_id, where.actor_key_id),
        (AuditEntry.target_type, where.target_type),
        (AuditEntry.target_id, where.target_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.created_at < where.until)
    if after is not None:
        stmt = stmt.where(AuditEntry.id < after)
    return list((await session.execute(stmt)).scalars().all())
