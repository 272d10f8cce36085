"""The audit log: actions people must account for (manual adjustments, key changes, decisions)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor_key_id: uuid.UUID | None,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_key_id=actor_key_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return entry
