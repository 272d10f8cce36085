"""Manual point adjustments by staff: a reason is required and every adjustment is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from core.timeutil import add_months
from services import members
from services.loyalty import ledger
from services.platform import audit
from services.platform.audit import Actor

MAX_ADJUSTMENT = 10_000_000


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Positive credits the member, negative debits them (never below their available points).
    points: int = Field(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment of 0 points changes nothing")
        return value


async def adjust(
    session: AsyncSession,
    member_id: uuid.UUID,
    data: AdjustmentCreate,
    *,
    key: str,
    actor: Actor,
) -> ledger.PostingResult:
    member = await members.get(session, member_id)
    reason = f"Adjustment by {actor.name}: {data.reason}"
    if data.points > 0:
        posting = await ledger.credit(
            session,
            member_id=member.id,
            points=data.points,
            kind=ledger.TxKind.ADJUST,
            reason=reason,
            idempotency_key=key,
            reference=("adjustment", actor.name),
            source=ledger.SystemAccount.ADJUSTMENTS,
            expires_at=add_months(datetime.now(UTC), get_settings().points.expiry_months),
        )
    else:
        posting = await ledger.debit(
            session,
            member_id=member.id,
            points=-data.points,
            kind=ledger.TxKind.ADJUST,
            reason=reason,
            idempotency_key=key,
            reference=("adjustment", actor.name),
            destination=ledger.SystemAccount.ADJUSTMENTS,
        )
    if not posting.replayed:
        await audit.record(
            session,
            actor,
            action="points.adjust",
            target_type="member",
            target_id=str(member.id),
            details={"points": data.points, "reason": data.reason, "transaction_id": posting.transaction_id},
        )
    return posting
