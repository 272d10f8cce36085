"""A member's system events (a ticket opened, points about to expire, a tier at risk...): recorded once by key.

Rules and journeys react to these the way they react to the shop's events. Each occurrence has a key built from
ids and dates, and the member event's unique key makes a retried activity or a second scan the same day record
it, and so trigger it, once. Properties carry ids, codes, dates and numbers only, never personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from models import MemberEvent


async def record_once(
    session: AsyncSession, member_id: uuid.UUID, kind: str, key: str, at: datetime, properties: dict[str, Any]
) -> bool:
    """Record the event `kind` for the member under `key`; False when that key was recorded before."""
    recorded = (
        await session.execute(
            insert(MemberEvent)
            .values(
                id=uuid7(),
                member_id=member_id,
                type=kind,
                occurred_at=at,
                properties=properties,
                idempotency_key=key,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(MemberEvent.id)
        )
    ).scalar_one_or_none()
    return recorded is not None
