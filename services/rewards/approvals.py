"""Approval of high-value redemptions: the inbox the API reads, the decisions people send to the
RedemptionApproval workflow (as Temporal updates), and the state changes the workflow's activities make
(neither the API nor the console changes an approval or a redemption status by itself).

Every ledger call carries a key derived from the redemption, so a retried activity changes nothing twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from models import Approval, LedgerEntry, LedgerTransaction, Member, Redemption, Reward
from services.loyalty import ledger
from services.platform import audit
from services.platform.audit import Actor, Via
from workflows import contracts

# How the workflow's update validators say no, as the API's errors.
_FAILURES: dict[str, tuple[type[AppError], str]] = {
    "AlreadyDecided": (Conflict, "already_decided"),
    "NotShippable": (Conflict, "not_shippable"),
    "SelfApproval": (Forbidden, "self_approval"),
    "NotAnApprover": (Forbidden, "insufficient_role"),
    "ReasonRequired": (InvalidInput, "validation_error"),
}


async def open_task(
    session: AsyncSession, redemption_id: uuid.UUID, *, escalate_at: datetime, expires_at: datetime
) -> Approval:
    """The approval task of a pending redemption, created once."""
    redemption = await _redemption(session, redemption_id)
    await session.execute(
        insert(Approval)
        .values(
            redemption_id=redemption.id,
            member_id=redemption.member_id,
            points=redemption.points,
            status="pending",
            escalated=False,
            requested_by=redemption.requested_by,
            requested_by_key=redemption.requested_by_key,
            escalate_at=escalate_at,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["redemption_id"])
    )
    return await by_redemption(session, redemption_id)


async def _redemption(session: AsyncSession, redemption_id: uuid.UUID, *, lock: bool = False) -> Redemption:
    stmt = select(Redemption).where(Redemption.id == redemption_id)
    if lock:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"redemption {redemption_id} does not exist", code="redemption_not_found")
    return found


async def by_redemption(session: AsyncSession, redemption_id: uuid.UUID) -> Approval:
    found = (
        await session.execute(select(Approval).where(Approval.redemption_id == redemption_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no approval for redemption {redemption_id}", code="approval_not_found")
    return found


async def get(session: AsyncSession, approval_id: uuid.UUID) -> Approval:
    found = await session.get(Approval, approval_id)
    if found is None:
        raise NotFound(f"approval {approval_id} does not exist", code="approval_not_found")
    return found


async def send_update(
    temporal: Client, redemption_id: uuid.UUID, update_name: str, arg: BaseModel
) -> contracts.ApprovalOutcome:
    """Send one update to the redemption's RedemptionApproval workflow and return its outcome (status,
    decided_by); a validator's refusal becomes the matching 4xx error."""
    handle = temporal.get_workflow_handle(contracts.redemption_workflow_id(redemption_id))
    try:
        outcome: contracts.ApprovalOutcome = await handle.execute_update(
            update_name, arg, result_type=contracts.ApprovalOutcome
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        error, code = _FAILURES.get(kind or "", (Conflict, "update_rejected"))
        raise error(str(getattr(cause, "message", cause)), code=code) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict("this redemption is no longer waiting for a decision", code="already_decided") from exc
        raise
    return outcome


async def decide(
    session: AsyncSession,
    temporal: Client,
    approval_id: uuid.UUID,
    action: Literal["approve", "reject"],
    *,
    reason: str | None,
    actor: Actor,
) -> Approval:
    """An approver's decision, whoever sends it (API or console): the workflow's `decide` update (which
    validates it: only an approver, only once, only while pending), then the audit row; returns the approval
    as the workflow settled it. The caller commits (the audit row).

    The session must hold nothing uncommitted: the read transaction this starts is ended before the update,
    so no connection sits idle in a transaction while the workflow's activities settle the decision."""
    redemption_id = (await get(session, approval_id)).redemption_id
    await session.rollback()
    decision = contracts.Decision(
        action=action, approver=actor.name, approver_key=str(actor.key_id), role=actor.role or "", reason=reason
    )
    outcome = await send_update(temporal, redemption_id, contracts.DECIDE_UPDATE, decision)
    await audit.record(
        session,
        actor,
        action=f"approval.{action}",
        target_type="approval",
        target_id=str(approval_id),
        details={"outcome": outcome.status, "reason": reason},
    )
    session.expire_all()
    return await get(session, approval_id)


async def escalate(session: AsyncSession, redemption_id: uuid.UUID) -> None:
    await session.execute(
        update(Approval)
        .where(Approval.redemption_id == redemption_id, Approval.status == "pending")
        .values(escalated=True)
    )


async def _settle(
    session: AsyncSession,
    redemption: Redemption,
    *,
    approval_status: str,
    redemption_status: str,
    decided_by: str,
    reason: str | None,
) -> None:
    now = datetime.now(UTC)
    await session.execute(
        update(Approval)
        .where(Approval.redemption_id == redemption.id, Approval.status == "pending")
        .values(status=approval_status, decided_by=decided_by, decided_at=now, reason=reason)
    )
    redemption.status = redemption_status
    redemption.reason = reason
    redemption.updated_at = now
    await audit.record(
        session,
        Actor(name=decided_by, key_id=None, via=Via.WORKFLOW),
        action=f"redemption.{redemption_status}",
        target_type="redemption",
        target_id=str(redemption.id),
        details={"reason": reason},
    )
    await session.flush()


async def approve(session: AsyncSession, redemption_id: uuid.UUID, *, approver: str) -> str:
    """Take the stock and spend the held points, in one transaction: 'fulfilling'. If the reward ran out
    meanwhile, release the points instead: 'out_of_stock'. Repeating returns the first outcome."""
    redemption = await _redemption(session, redemption_id, lock=True)
    if redemption.status != "pending_approval":
        return "out_of_stock" if redemption.reason == "out of stock" else redemption.status
    assert redemption.hold_id is not None
    taken = (
        await session.execute(
            update(Reward)
            .where(Reward.id == redemption.reward_id, (Reward.stock.is_(None)) | (Reward.stock > 0))
            .values(stock=Reward.stock - 1)
            .returning(Reward.id)
        )
    ).scalar_one_or_none()
    if taken is None:
        await ledger.void_hold(session, redemption.hold_id, reason="Redemption approved but the reward is out of stock")
        await _settle(
            session,
            redemption,
            approval_status="rejected",
            redemption_status="rejected",
            decided_by=approver,
            reason="out of stock",
        )
        return "out_of_stock"
    posting = await ledger.post_hold(session, redemption.hold_id, reason=f"Redemption approved by {approver}")
    redemption.ledger_transaction_id = posting.transaction_id
    await _settle(
        session,
        redemption,
        approval_status="approved",
        redemption_status="fulfilling",
        decided_by=approver,
        reason=None,
    )
    return "fulfilling"


async def release(session: AsyncSession, redemption_id: uuid.UUID, *, outcome: str, by: str, reason: str | None) -> str:
    """Reject, expire or cancel: the hold is voided and the redemption closed with the reason."""
    statuses = {
        "rejected": ("rejected", "rejected"),
        "expired": ("expired", "expired"),
        "cancelled": ("withdrawn", "cancelled"),
    }
    approval_status, redemption_status = statuses[outcome]
    redemption = await _redemption(session, redemption_id, lock=True)
    if redemption.status != "pending_approval":
        return redemption.status
    assert redemption.hold_id is not None
    await ledger.void_hold(
        session,
        redemption.hold_id,
        reason=f"Redemption {outcome}: {reason or 'no reason given'}",
        expired=outcome == "expired",
    )
    await _settle(
        session,
        redemption,
        approval_status=approval_status,
        redemption_status=redemption_status,
        decided_by=by,
        reason=reason,
    )
    return redemption_status


async def mark_shipped(session: AsyncSession, redemption_id: uuid.UUID, *, tracking_number: str) -> str:
    redemption = await _redemption(session, redemption_id, lock=True)
    if redemption.status == "fulfilling":
        redemption.status = "fulfilled"
        redemption.tracking_number = tracking_number
        redemption.completed_at = datetime.now(UTC)
        redemption.updated_at = redemption.completed_at
        await session.flush()
    return redemption.status


@dataclass(frozen=True)
class InboxItem:
    approval: Approval
    redemption: Redemption
    member: Member  # shown through services.privacy.masking: the inbox masks contact data
    reward_name: str
    tier: str
    lifetime_spend: str
    points_available: int
    member_since: datetime
    recent_redemptions: int
    risk_hints: list[str] = field(default_factory=list)


async def _risk_hints(session: AsyncSession, member: Member, approval: Approval) -> list[str]:
    hints = []
    age = approval.created_at - member.created_at
    if age < timedelta(days=7):
        hints.append(f"account created {max(age.days, 0)} day(s) before the request")
    since = approval.created_at - timedelta(hours=24)
    recent = (
        await session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerTransaction.member_id == member.id,
                LedgerTransaction.kind.in_(("earn", "adjust")),
                LedgerEntry.amount > 0,
                LedgerEntry.balance_after.is_not(None),
                LedgerEntry.created_at >= since,
            )
        )
    ).scalar_one()
    recent = int(recent)  # sum() of bigint is numeric: a Decimal that may print as 1E+4
    if approval.points and recent * 2 > approval.points:
        hints.append(f"{recent} of the points were earned in the last 24 h")
    if member.order_count == 0:
        hints.append("no completed orders")
    return hints


async def inbox(session: AsyncSession, *, status: str | None, limit: int) -> list[InboxItem]:
    """Oldest first, each with what an approver needs to decide."""
    stmt = (
        select(Approval, Redemption, Member, Reward.name)
        .join(Redemption, Redemption.id == Approval.redemption_id)
        .join(Member, Member.id == Approval.member_id)
        .join(Reward, Reward.id == Redemption.reward_id)
    )
    if status:
        stmt = stmt.where(Approval.status == status)
    rows = (await session.execute(stmt.order_by(Approval.created_at, Approval.id).limit(limit))).all()
    items = []
    for approval, redemption, member, reward_name in rows:
        balance = await ledger.balance(session, member.id)
        recent = (
            await session.execute(
                select(func.count()).where(
                    Redemption.member_id == member.id, Redemption.created_at >= approval.created_at - timedelta(days=30)
                )
            )
        ).scalar_one()
        items.append(
            InboxItem(
                approval=approval,
                redemption=redemption,
                member=member,
                reward_name=reward_name,
                tier=member.tier,
                lifetime_spend=str(member.lifetime_spend),
                points_available=balance.available,
                member_since=member.created_at,
                recent_redemptions=int(recent),
                risk_hints=await _risk_hints(session, member, approval),
            )
        )
    return items


async def history(session: AsyncSession, *, limit: int) -> list[tuple[Approval, str]]:
    """Decided approvals (approved, rejected, expired, withdrawn), newest decision first, with the reward name."""
    rows = await session.execute(
        select(Approval, Reward.name)
        .join(Redemption, Redemption.id == Approval.redemption_id)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Approval.status != "pending")
        .order_by(Approval.decided_at.desc().nulls_last(), Approval.id.desc())
        .limit(limit)
    )
    return [(approval, name) for approval, name in rows.all()]
