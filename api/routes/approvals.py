"""The approver inbox, decisions, and the member's and shop's actions on a held redemption.

Decisions go to the RedemptionApproval workflow as Temporal updates; the workflow's activities change the
database. The API answers with what the workflow settled."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ApproverKey, IntegrationKey, SessionDep, TemporalDep
from api.schemas.approvals import ApprovalOut, ApproveBody, CancelBody, InboxItemOut, RejectBody, ShippedBody
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import RedemptionOut
from core.errors import AppError, Conflict, Forbidden, InvalidInput
from models import ApiKey
from services import rewards
from services.platform import audit
from services.rewards import approvals
from workflows import contracts
from workflows.contracts import ApprovalOutcome, CancelRequest, Decision, ShippedRequest

router = APIRouter(tags=["approvals"], responses=ERROR_RESPONSES)


_FAILURES: dict[str, type[AppError]] = {
    "AlreadyDecided": Conflict,
    "NotShippable": Conflict,
    "SelfApproval": Forbidden,
    "NotAnApprover": Forbidden,
    "ReasonRequired": InvalidInput,
}
_CODES = {
    "AlreadyDecided": "already_decided",
    "NotShippable": "not_shippable",
    "SelfApproval": "self_approval",
    "NotAnApprover": "insufficient_role",
    "ReasonRequired": "validation_error",
}


async def _update(temporal: Client, redemption_id: uuid.UUID, update: str, arg: BaseModel) -> ApprovalOutcome:
    handle: WorkflowHandle[Any, Any] = temporal.get_workflow_handle(contracts.redemption_workflow_id(redemption_id))
    try:
        result: ApprovalOutcome = await handle.execute_update(update, arg, result_type=ApprovalOutcome)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        error = _FAILURES.get(kind or "", Conflict)
        raise error(str(getattr(cause, "message", cause)), code=_CODES.get(kind or "", "update_rejected")) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict("this redemption is no longer waiting for a decision", code="already_decided") from exc
        raise
    return result


@router.get("/api/v1/approvals", response_model=list[InboxItemOut], summary="The approver inbox, oldest first")
async def inbox(
    session: SessionDep,
    _: ApproverKey,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|expired|withdrawn)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[InboxItemOut]:
    items = await approvals.inbox(session, status=status, limit=limit)
    return [
        InboxItemOut(
            **ApprovalOut.model_validate(item.approval).model_dump(),
            reward_name=item.reward_name,
            member={
                "tier": item.tier,
                "lifetime_spend": item.lifetime_spend,
                "points_available": item.points_available,
                "member_since": item.member_since.isoformat(),
                "redemptions_last_30_days": item.recent_redemptions,
            },
            risk_hints=item.risk_hints,
        )
        for item in items
    ]


@router.get("/api/v1/approvals/{approval_id}", response_model=ApprovalOut, summary="One approval")
async def get_approval(approval_id: uuid.UUID, session: SessionDep, _: ApproverKey) -> ApprovalOut:
    return ApprovalOut.model_validate(await approvals.get(session, approval_id))


async def decide_approval(
    session: SessionDep, temporal: Client, key: ApiKey, approval_id: uuid.UUID, decision: Decision
) -> ApprovalOut:
    redemption_id = (await approvals.get(session, approval_id)).redemption_id
    actor_id, actor = key.id, key.name
    await session.rollback()  # nothing to write yet; do not hold a transaction open while Temporal decides
    outcome = await _update(temporal, redemption_id, contracts.DECIDE_UPDATE, decision)
    await audit.record(
        session,
        actor_key_id=actor_id,
        actor=actor,
        action=f"approval.{decision.action}",
        target_type="approval",
        target_id=str(approval_id),
        details={"outcome": outcome.status, "reason": decision.reason},
    )
    await session.commit()
    session.expire_all()
    return ApprovalOut.model_validate(await approvals.get(session, approval_id))


@router.post(
    "/api/v1/approvals/{approval_id}/approve",
    response_model=ApprovalOut,
    summary="Approve: the held points are spent and the warehouse is told",
)
async def approve(
    approval_id: uuid.UUID,
    session: SessionDep,
    key: ApproverKey,
    temporal: TemporalDep,
    body: ApproveBody | None = None,
) -> ApprovalOut:
    decision = Decision(
        action="approve", approver=key.name, approver_key=str(key.id), role=key.role, reason=body.note if body else None
    )
    return await decide_approval(session, temporal, key, approval_id, decision)


@router.post(
    "/api/v1/approvals/{approval_id}/reject",
    response_model=ApprovalOut,
    summary="Reject with a reason: the hold is released and the member told",
)
async def reject(
    approval_id: uuid.UUID, body: RejectBody, session: SessionDep, key: ApproverKey, temporal: TemporalDep
) -> ApprovalOut:
    decision = Decision(action="reject", approver=key.name, approver_key=str(key.id), role=key.role, reason=body.reason)
    return await decide_approval(session, temporal, key, approval_id, decision)


async def _redemption_out(session: SessionDep, redemption_id: uuid.UUID) -> RedemptionOut:
    session.expire_all()
    return RedemptionOut.model_validate(await rewards.get_redemption(session, redemption_id))


@router.post(
    "/api/v1/redemptions/{redemption_id}/cancel",
    response_model=RedemptionOut,
    summary="The member withdraws a redemption waiting for approval",
)
async def cancel_redemption(
    redemption_id: uuid.UUID,
    session: SessionDep,
    _: IntegrationKey,
    temporal: TemporalDep,
    body: CancelBody | None = None,
) -> RedemptionOut:
    redemption = await rewards.get_redemption(session, redemption_id)
    if redemption.status != "pending_approval":
        raise Conflict(f"this redemption is {redemption.status}", code="already_decided")
    await session.rollback()
    await _update(
        temporal,
        redemption_id,
        contracts.CANCEL_UPDATE,
        CancelRequest(reason=(body.reason if body and body.reason else "cancelled by the member")),
    )
    return await _redemption_out(session, redemption_id)


@router.post(
    "/api/v1/redemptions/{redemption_id}/shipped",
    response_model=RedemptionOut,
    summary="The warehouse shipped an approved redemption (completes it)",
)
async def redemption_shipped(
    redemption_id: uuid.UUID, body: ShippedBody, session: SessionDep, _: IntegrationKey, temporal: TemporalDep
) -> RedemptionOut:
    redemption = await rewards.get_redemption(session, redemption_id)
    if redemption.status != "fulfilling":
        raise Conflict(f"this redemption is {redemption.status}", code="not_shippable")
    await session.rollback()
    await _update(
        temporal, redemption_id, contracts.SHIPPED_UPDATE, ShippedRequest(tracking_number=body.tracking_number)
    )
    return await _redemption_out(session, redemption_id)
