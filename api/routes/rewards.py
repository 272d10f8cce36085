"""The reward catalog and redemptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, IntegrationKey, MarketerKey, SessionDep, SettingsDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import RedemptionOut, RewardOut
from models import Reward
from services import rewards
from services.platform.audit import Actor
from services.rewards import RedemptionCreate, RewardCreate, RewardUpdate

router = APIRouter(tags=["rewards"], responses=ERROR_RESPONSES)


def _reward_out(reward: Reward) -> RewardOut:
    out = RewardOut.model_validate(reward)
    out.needs_approval = reward.points_cost > rewards.approval_threshold(reward)
    return out


@router.post("/api/v1/rewards", status_code=201, response_model=RewardOut, summary="Add a reward to the catalog")
async def create_reward(
    request: Request, body: RewardCreate, session: SessionDep, key: MarketerKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> RewardOut:
        return _reward_out(await rewards.create(session, body, actor=Actor.of_key(key)))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/api/v1/rewards", response_model=list[RewardOut], summary="The reward catalog")
async def list_rewards(
    session: SessionDep, _: CurrentKey, active: Annotated[bool, Query(description="only active rewards")] = True
) -> list[RewardOut]:
    return [_reward_out(r) for r in await rewards.catalog(session, active_only=active)]


@router.get("/api/v1/rewards/{reward_id}", response_model=RewardOut, summary="One reward")
async def get_reward(reward_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> RewardOut:
    return _reward_out(await rewards.get(session, reward_id))


@router.patch("/api/v1/rewards/{reward_id}", response_model=RewardOut, summary="Change a reward (stock, cost, ...)")
async def update_reward(reward_id: uuid.UUID, body: RewardUpdate, session: SessionDep, key: MarketerKey) -> RewardOut:
    out = _reward_out(await rewards.update_reward(session, reward_id, body, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.post(
    "/api/v1/redemptions",
    status_code=201,
    response_model=RedemptionOut,
    responses={202: {"model": RedemptionOut, "description": "Held, pending approval"}},
    summary="Redeem a reward: spent now (201), or held pending approval above the threshold (202)",
)
async def create_redemption(
    request: Request,
    body: RedemptionCreate,
    session: SessionDep,
    key: IntegrationKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> RedemptionOut:
        redemption = await rewards.request_redemption(
            session,
            body,
            requested_by=f"api:{key.name}",
            requested_by_key=key.id,
            task_queue=settings.temporal.task_queue,
        )
        return RedemptionOut.model_validate(redemption)

    def status_of(out: BaseModel) -> int:
        return 202 if getattr(out, "status", None) == "pending_approval" else 201

    return await commit_write(
        request, session, key=key, body=body, idempotency_key=idem, make=make, status_of=status_of
    )


@router.get("/api/v1/redemptions/{redemption_id}", response_model=RedemptionOut, summary="One redemption")
async def get_redemption(redemption_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> RedemptionOut:
    return RedemptionOut.model_validate(await rewards.get_redemption(session, redemption_id))
