"""Paid plans (admin), memberships (read by staff and the shop, cancelled by admin or the shop) and a member's
current plan with the free-shipping flag the shop reads at checkout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from api.deps import AdminKey, CurrentKey, IdempotencyKeyDep, SessionDep, SettingsDep, require_roles
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.plans import MemberPlansOut, MembershipCancel, MembershipOut, PlanBenefitsOut, PlanOut
from models import ApiKey
from services import members, plans
from services.intake import programme_events
from services.platform import audit
from services.platform.api_keys import Role
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1", tags=["plans"], responses=ERROR_RESPONSES)
# The shop cancels a membership when the member asks it (and pays the refund); an admin may too.
CancelKey = Annotated[ApiKey, Depends(require_roles(Role.INTEGRATION))]


@router.post("/plans", status_code=201, response_model=PlanOut, summary="Create a paid membership plan")
async def create_plan(
    request: Request, body: plans.PlanCreate, session: SessionDep, key: AdminKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> PlanOut:
        return PlanOut.model_validate(await plans.create(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/plans", response_model=list[PlanOut], summary="List the paid membership plans")
async def list_plans(session: SessionDep, _: CurrentKey) -> list[PlanOut]:
    return [PlanOut.model_validate(p) for p in await plans.listing(session)]


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="Read a paid membership plan")
async def get_plan(plan_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> PlanOut:
    return PlanOut.model_validate(await plans.get_plan(session, plan_id))


@router.put("/plans/{plan_id}", response_model=PlanOut, summary="Change a plan (its code stays)")
async def update_plan(
    request: Request, plan_id: uuid.UUID, body: plans.PlanUpdate, session: SessionDep, key: AdminKey
) -> Response:
    async def make() -> PlanOut:
        return PlanOut.model_validate(await plans.update(session, plan_id, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=None, make=make, status_code=200)


async def _membership_out(session: SessionDep, membership_id: uuid.UUID) -> MembershipOut:
    membership = await plans.get_membership(session, membership_id)
    plan = await plans.get_plan(session, membership.plan_id)
    return MembershipOut.of(plans.MemberPlan(membership=membership, plan=plan))


@router.get("/memberships/{membership_id}", response_model=MembershipOut, summary="Read a membership")
async def get_membership(membership_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> MembershipOut:
    return await _membership_out(session, membership_id)


@router.post(
    "/memberships/{membership_id}/cancel",
    response_model=MembershipOut,
    summary="Cancel a membership now; answers with the refund owed (the shop pays it)",
)
async def cancel_membership(
    request: Request,
    membership_id: uuid.UUID,
    session: SessionDep,
    key: CancelKey,
    idem: IdempotencyKeyDep,
    settings: SettingsDep,
    body: Annotated[MembershipCancel | None, Body()] = None,
) -> Response:
    async def make() -> MembershipOut:
        actor = audit.person_or_none(key)
        await plans.cancel(session, membership_id, at=datetime.now(UTC), actor=actor)
        await programme_events.plan_ended(session, membership_id, task_queue=settings.temporal.task_queue)
        return await _membership_out(session, membership_id)

    return await commit_write(
        request, session, key=key, body=body or MembershipCancel(), idempotency_key=idem, make=make, status_code=200
    )


@router.get(
    "/members/{member_id}/plan",
    response_model=MemberPlansOut,
    summary="A member's paid plan and its benefits (free_shipping for the shop), and their memberships",
)
async def member_plan(member_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> MemberPlansOut:
    member = await members.get(session, member_id)
    held = await plans.current(session, member.id, datetime.now(UTC))
    return MemberPlansOut(
        member_id=member.id,
        free_shipping=held is not None and held.plan.free_shipping,
        current=PlanBenefitsOut.of(held),
        memberships=[MembershipOut.of(m) for m in await plans.of_member(session, member.id)],
    )
