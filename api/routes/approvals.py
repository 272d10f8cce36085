"""The approver inbox, decisions, and the member's and shop's actions on a held redemption.

Decisions go to the RedemptionApproval workflow as Temporal updates (services.rewards.approvals); the
workflow's activities change the database. The API answers with what the workflow settled."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.boundary import commit
from api.deps import ApproverKey, IntegrationKey, SessionDep, TemporalDep
from api.personal import UnmaskedQuery, audit_reveal, view_of
from api.schemas.approvals import ApprovalOut, ApproveBody, CancelBody, InboxItemOut, RejectBody, ShippedBody
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import RedemptionOut
from core.errors import Conflict
from services import rewards
from services.platform.audit import Actor
from services.rewards import approvals
from workflows import contracts
from workflows.contracts import CancelRequest, ShippedRequest

router = APIRouter(tags=["approvals"], responses=ERROR_RESPONSES)


@router.get("/api/v1/approvals", response_model=list[InboxItemOut], summary="The approver inbox, oldest first")
async def inbox(
    request: Request,
    session: SessionDep,
    key: ApproverKey,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|expired|withdrawn)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unmasked: UnmaskedQuery = False,
) -> list[InboxItemOut]:
    view = view_of(key, unmasked)
    items = await approvals.inbox(session, status=status, limit=limit)
    out = [
        InboxItemOut(
            **ApprovalOut.of(item.approval, view).model_dump(),
            reward_name=item.reward_name,
            member={
                # To recognise the person (and call them back if needed), as the role's view shows it.
                "name": view.apply("members", "name", item.member.name),
                "email": view.apply("members", "email", item.member.email),
                "phone": view.apply("members", "phone", item.member.phone),
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
    await audit_reveal(session, request, key, view, [item.member.id for item in items])
    return out


@router.get("/api/v1/approvals/{approval_id}", response_model=ApprovalOut, summary="One approval")
async def get_approval(approval_id: uuid.UUID, session: SessionDep, key: ApproverKey) -> ApprovalOut:
    return ApprovalOut.of(await approvals.get(session, approval_id), view_of(key))


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
    reason = body.note if body else None
    approval = await approvals.decide(session, temporal, approval_id, "approve", reason=reason, actor=Actor.of_key(key))
    await commit(session)
    return ApprovalOut.of(approval, view_of(key))


@router.post(
    "/api/v1/approvals/{approval_id}/reject",
    response_model=ApprovalOut,
    summary="Reject with a reason: the hold is released and the member told",
)
async def reject(
    approval_id: uuid.UUID, body: RejectBody, session: SessionDep, key: ApproverKey, temporal: TemporalDep
) -> ApprovalOut:
    approval = await approvals.decide(
        session, temporal, approval_id, "reject", reason=body.reason, actor=Actor.of_key(key)
    )
    await commit(session)
    return ApprovalOut.of(approval, view_of(key))


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
    await approvals.send_update(
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
    await approvals.send_update(
        temporal, redemption_id, contracts.SHIPPED_UPDATE, ShippedRequest(tracking_number=body.tracking_number)
    )
    return await _redemption_out(session, redemption_id)
