"""The reward catalog and redemptions: spend now, or hold for approval above the threshold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.ids import uuid7
from core.settings import get_settings
from models import Redemption, Reward
from services import members
from services.loyalty import ledger
from services.platform import audit, outbox
from services.platform.audit import Actor
from workflows import contracts

MAX_POINTS = 1_000_000_000


class RewardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    points_cost: int = Field(gt=0, le=MAX_POINTS)
    stock: int | None = Field(default=None, ge=0, le=10_000_000)
    active: bool = True
    approval_threshold: int | None = Field(default=None, ge=0, le=MAX_POINTS)


class RewardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    points_cost: int | None = Field(default=None, gt=0, le=MAX_POINTS)
    stock: int | None = Field(default=None, ge=0, le=10_000_000)
    active: bool | None = None
    approval_threshold: int | None = Field(default=None, ge=0, le=MAX_POINTS)


class RedemptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    reward_id: uuid.UUID


async def create(session: AsyncSession, data: RewardCreate, *, actor: Actor | None = None) -> Reward:
    """A catalog entry; audited as `reward.create` when an `actor` adds it (the demo passes none)."""
    reward = Reward(**data.model_dump())
    session.add(reward)
    await session.flush()
    await session.refresh(reward)
    if actor is not None:
        await _audit(session, actor, "create", reward, data.model_dump(mode="json"))
    return reward


async def _audit(session: AsyncSession, actor: Actor, action: str, reward: Reward, details: dict[str, object]) -> None:
    await audit.record(
        session, actor, action=f"reward.{action}", target_type="reward", target_id=str(reward.id), details=details
    )


async def get(session: AsyncSession, reward_id: uuid.UUID) -> Reward:
    reward = await session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(f"reward {reward_id} does not exist", code="reward_not_found")
    return reward


async def catalog(session: AsyncSession, *, active_only: bool) -> list[Reward]:
    stmt = select(Reward).order_by(Reward.points_cost, Reward.name)
    if active_only:
        stmt = stmt.where(Reward.active.is_(True))
    return list((await session.execute(stmt)).scalars().all())


async def update_reward(
    session: AsyncSession, reward_id: uuid.UUID, data: RewardUpdate, *, actor: Actor | None = None
) -> Reward:
    """Change the settings present; audited as `reward.update` with them when an `actor` changes it."""
    reward = await get(session, reward_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in {"name", "points_cost", "active"}:
            continue
        setattr(reward, field, value)
    reward.updated_at = datetime.now(UTC)
    await session.flush()
    if actor is not None:
        await _audit(session, actor, "update", reward, data.model_dump(mode="json", exclude_unset=True))
    return reward


def approval_threshold(reward: Reward) -> int:
    if reward.approval_threshold is not None:
        return reward.approval_threshold
    return get_settings().points.approval_threshold


async def _take_stock(session: AsyncSession, reward: Reward) -> None:
    """Decrement stock with a conditional update: concurrent redemptions never take it below zero."""
    taken = (
        await session.execute(
            update(Reward)
            .where(Reward.id == reward.id, Reward.active.is_(True), (Reward.stock.is_(None)) | (Reward.stock > 0))
            .values(stock=Reward.stock - 1)
            .returning(Reward.id)
        )
    ).scalar_one_or_none()
    if taken is None:
        raise Conflict(
            f"reward {reward.name!r} is out of stock", code="out_of_stock", details={"reward_id": str(reward.id)}
        )


async def request_redemption(
    session: AsyncSession,
    data: RedemptionCreate,
    *,
    requested_by: str,
    task_queue: str,
    requested_by_key: uuid.UUID | None = None,
) -> Redemption:
    """At or below the approval threshold: spend the points and take the stock now, in this transaction.
    Above it: hold the points and leave the redemption pending approval (stock is taken on approval)."""
    member = await members.get_active(session, data.member_id)
    reward = await get(session, data.reward_id)
    if not reward.active:
        raise Conflict(f"reward {reward.name!r} is not available", code="reward_inactive")
    redemption_id = uuid7()
    now = datetime.now(UTC)
    redemption = Redemption(
        id=redemption_id,
        member_id=member.id,
        reward_id=reward.id,
        points=reward.points_cost,
        requested_by=requested_by,
        requested_by_key=requested_by_key,
        created_at=now,
        updated_at=now,
    )
    if reward.points_cost <= approval_threshold(reward):
        await _take_stock(session, reward)
        posting = await ledger.debit(
            session,
            member_id=member.id,
            points=reward.points_cost,
            kind=ledger.TxKind.SPEND,
            reason=f"Redeemed {reward.name}",
            idempotency_key=f"redemption:{redemption_id}:spend",
            reference=("redemption", str(redemption_id)),
        )
        redemption.status = "completed"
        redemption.ledger_transaction_id = posting.transaction_id
        redemption.completed_at = now
    else:
        if reward.stock is not None and reward.stock <= 0:
            raise Conflict(
                f"reward {reward.name!r} is out of stock", code="out_of_stock", details={"reward_id": str(reward.id)}
            )
        hold_id = uuid7()
        posting = await ledger.hold(
            session,
            member_id=member.id,
            points=reward.points_cost,
            reason=f"Held for redemption of {reward.name}",
            idempotency_key=f"redemption:{redemption_id}:hold",
            hold_id=hold_id,
            expires_at=now + timedelta(hours=get_settings().points.hold_ttl_hours),
            reference=("redemption", str(redemption_id)),
        )
        redemption.status = "pending_approval"
        redemption.hold_id = hold_id
        redemption.ledger_transaction_id = posting.transaction_id
        # The approval workflow opens the approver's task; the outbox starts it once this commits.
        approval = contracts.ApprovalInput(redemption_id=str(redemption_id))
        await outbox.enqueue_start(
            session, contracts.redemption_approval_start(approval, member_id=member.id, task_queue=task_queue)
        )
    session.add(redemption)
    await session.flush()
    return redemption


async def get_redemption(session: AsyncSession, redemption_id: uuid.UUID) -> Redemption:
    found = await session.get(Redemption, redemption_id)
    if found is None:
        raise NotFound(f"redemption {redemption_id} does not exist", code="redemption_not_found")
    return found
