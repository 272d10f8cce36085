"""Challenges: marketers define them (window, goals, reward, badge); every key reads them with their counts;
the shop can join a member to an opt-in challenge; a member's runs and badges (docs/loyalty.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.boundary import commit
from api.deps import CurrentKey, IdempotencyKeyDep, IntegrationKey, MarketerKey, SessionDep, SettingsDep
from api.respond import commit_write
from api.schemas.challenges import (
    BadgeOut,
    ChallengeCreate,
    ChallengeJoin,
    ChallengeOut,
    ChallengeUpdate,
    MemberChallengeOut,
    MemberChallengesOut,
)
from api.schemas.common import ERROR_RESPONSES
from services import challenges, members
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/challenges", tags=["challenges"], responses=ERROR_RESPONSES)
member_router = APIRouter(prefix="/api/v1/members", tags=["challenges"], responses=ERROR_RESPONSES)

ChallengeId = Annotated[uuid.UUID, Path(description="The challenge's id")]


@router.get("", response_model=list[ChallengeOut], summary="Every challenge, with participants and completions")
async def list_challenges(session: SessionDep, _: CurrentKey) -> list[ChallengeOut]:
    return [ChallengeOut.of(summary) for summary in await challenges.summaries(session)]


@router.post("", status_code=201, response_model=ChallengeOut, summary="Define a challenge (marketer)")
async def create_challenge(
    request: Request, body: ChallengeCreate, session: SessionDep, key: MarketerKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> ChallengeOut:
        made = await challenges.create(session, body.code, body.definition, active=body.active, actor=Actor.of_key(key))
        return ChallengeOut.of(await challenges.summary(session, made.id))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/{challenge_id}", response_model=ChallengeOut, summary="One challenge")
async def get_challenge(challenge_id: ChallengeId, session: SessionDep, _: CurrentKey) -> ChallengeOut:
    return ChallengeOut.of(await challenges.summary(session, challenge_id))


@router.put(
    "/{challenge_id}",
    response_model=ChallengeOut,
    summary="Replace a challenge's definition or switch it on or off (marketer; members already in keep their window)",
)
async def update_challenge(
    challenge_id: ChallengeId, body: ChallengeUpdate, session: SessionDep, key: MarketerKey
) -> ChallengeOut:
    await challenges.update(session, challenge_id, body.definition, active=body.active, actor=Actor.of_key(key))
    out = ChallengeOut.of(await challenges.summary(session, challenge_id))
    await commit(session)
    return out


@router.post(
    "/{challenge_id}/join",
    response_model=MemberChallengeOut,
    summary="Join a member to an opt-in challenge (the shop's app; joining again answers the same run)",
)
async def join_challenge(
    challenge_id: ChallengeId, body: ChallengeJoin, session: SessionDep, _: IntegrationKey, settings: SettingsDep
) -> MemberChallengeOut:
    run, _joined = await challenges.opt_in(
        session, challenge_id, body.member_id, task_queue=settings.temporal.task_queue
    )
    out = MemberChallengeOut.of(run, await challenges.get(session, challenge_id))
    await commit(session)
    return out


@member_router.get(
    "/{member_id}/challenges", response_model=MemberChallengesOut, summary="A member's challenges and badges"
)
async def member_challenges(member_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> MemberChallengesOut:
    await members.get(session, member_id)
    return MemberChallengesOut(
        challenges=[MemberChallengeOut.of(run, c) for run, c in await challenges.member_runs(session, member_id)],
        badges=[BadgeOut.of(badge) for badge in await challenges.member_badges(session, member_id)],
    )
