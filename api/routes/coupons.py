"""Coupons: templates (marketing), issuing to members, redeeming at the till, a member's coupons."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import CurrentKey, IdempotencyKeyDep, IntegrationKey, MarketerKey, SessionDep, WriterKey
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.coupons import CouponOut, RedemptionOut, TemplateOut
from services.platform import audit
from services.platform.audit import Actor
from services.rewards import coupons
from services.rewards.coupons import CouponIssue, CouponRedeem, TemplateCreate

router = APIRouter(prefix="/api/v1", tags=["coupons"], responses=ERROR_RESPONSES)


@router.post("/coupon-templates", status_code=201, response_model=TemplateOut, summary="Create a coupon template")
async def create_template(
    request: Request, body: TemplateCreate, session: SessionDep, key: MarketerKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> TemplateOut:
        return TemplateOut.model_validate(await coupons.create_template(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/coupon-templates", response_model=list[TemplateOut], summary="List coupon templates")
async def list_templates(session: SessionDep, _: CurrentKey) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in await coupons.list_templates(session)]


@router.post("/coupons", status_code=201, response_model=CouponOut, summary="Issue a coupon to a member")
async def issue_coupon(
    request: Request, body: CouponIssue, session: SessionDep, key: WriterKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> CouponOut:
        return CouponOut.of(await coupons.issue(session, body, actor=audit.person_or_none(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.post(
    "/coupons/redeem", response_model=RedemptionOut, summary="Redeem a member's coupon (once) and get the discount"
)
async def redeem_coupon(
    request: Request, body: CouponRedeem, session: SessionDep, key: IntegrationKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> RedemptionOut:
        return RedemptionOut.of(await coupons.redeem(session, body))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make, status_code=200)


@router.get("/members/{member_id}/coupons", response_model=list[CouponOut], summary="A member's coupons, newest first")
async def list_member_coupons(
    member_id: uuid.UUID,
    session: SessionDep,
    _: CurrentKey,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CouponOut]:
    return [CouponOut.of(v) for v in await coupons.list_member_coupons(session, member_id, limit=limit)]
