"""HTTP idempotency: a create request retried with the same Idempotency-Key gets the first response.

The record is written in the request's own transaction, before the work: a concurrent retry waits on the
unique index until the first commits, then replays it; if the first fails, nothing was stored."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict
from core.ids import uuid7
from models import IdempotencyRecord


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


@dataclass(frozen=True)
class Claim:
    """A fresh claim on a key: call `complete` with the response before committing."""

    record_id: uuid.UUID


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def claim(
    session: AsyncSession, *, api_key_id: uuid.UUID, method: str, path: str, key: str, body_hash: str
) -> Claim | StoredResponse:
    record_id = uuid7()
    inserted = (
        await session.execute(
            insert(IdempotencyRecord)
            .values(
                id=record_id,
                api_key_id=api_key_id,
                method=method,
                path=path,
                key=key,
                request_hash=body_hash,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(constraint="uq_idempotency_scope")
            .returning(IdempotencyRecord.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return Claim(record_id=inserted)
    existing = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == api_key_id,
                IdempotencyRecord.method == method,
                IdempotencyRecord.path == path,
                IdempotencyRecord.key == key,
            )
        )
    ).scalar_one()
    if existing.request_hash != body_hash:
        raise Conflict(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_conflict",
            details={"idempotency_key": key},
        )
    assert existing.response_status is not None  # written in the same transaction as the claim
    return StoredResponse(status=existing.response_status, body=existing.response_body)


async def complete(session: AsyncSession, claim_: Claim, *, status: int, body: Any) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim_.record_id)
        .values(response_status=status, response_body=body)
    )
