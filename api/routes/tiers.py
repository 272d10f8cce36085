"""The tier ladder: read by anyone, replaced by admins."""

from __future__ import annotations

from fastapi import APIRouter

from api.boundary import commit
from api.deps import AdminKey, CurrentKey, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import TierLadderOut, TierOut
from services.loyalty import tiers
from services.loyalty.tiers import Ladder
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/tiers", tags=["tiers"], responses=ERROR_RESPONSES)


@router.get("", response_model=TierLadderOut, summary="The tier ladder, lowest first")
async def get_tiers(session: SessionDep, _: CurrentKey) -> TierLadderOut:
    return TierLadderOut(tiers=[TierOut.model_validate(t) for t in await tiers.ladder(session)])


@router.put("", response_model=TierLadderOut, summary="Replace the tier ladder (admin)")
async def put_tiers(body: Ladder, session: SessionDep, key: AdminKey) -> TierLadderOut:
    ladder = await tiers.replace(session, body, actor=Actor.of_key(key))
    out = TierLadderOut(tiers=[TierOut.model_validate(t) for t in ladder])
    await commit(session)
    return out
