"""The tier ladder and its qualification policy: read by anyone, changed by admins; the policy's dry run."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.boundary import commit
from api.deps import AdminKey, CurrentKey, MarketerKey, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import TierDryRunOut, TierForecastOut, TierLadderOut, TierOut, TierPolicyOut
from services.loyalty import tier_policy, tier_reviews, tiers
from services.loyalty.tier_policy import TierPolicyIn
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


@router.get("/policy", response_model=TierPolicyOut, summary="How the ladder qualifies members")
async def get_policy(session: SessionDep, _: CurrentKey) -> TierPolicyOut:
    return TierPolicyOut.model_validate(await tier_policy.get(session))


@router.put("/policy", response_model=TierPolicyOut, summary="Replace the qualification policy (admin)")
async def put_policy(body: TierPolicyIn, session: SessionDep, key: AdminKey) -> TierPolicyOut:
    """Takes effect at the next review: nobody's tier changes now."""
    out = TierPolicyOut.model_validate(await tier_policy.update(session, body, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.post("/policy/dry-run", response_model=TierDryRunOut, summary="How many would rise, keep, fall under a policy")
async def dry_run_policy(body: TierPolicyIn, session: SessionDep, _: MarketerKey) -> TierDryRunOut:
    """Each member's next review under the proposed policy, on what is recorded today. Changes nothing."""
    forecast = await tier_reviews.dry_run(session, body, today=datetime.now(UTC).date())
    by_tier = [TierForecastOut(tier=f.tier, rise=f.rise, keep=f.keep, fall=f.fall) for f in forecast]
    return TierDryRunOut(
        policy=body,
        rise=sum(f.rise for f in forecast),
        keep=sum(f.keep for f in forecast),
        fall=sum(f.fall for f in forecast),
        by_tier=by_tier,
    )
