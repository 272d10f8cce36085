"""The referral programme's settings: one row marketers edit in the console (audited), read at each link
(active, monthly limit), at each first order (the return window) and at each payout (the rewards)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from models import CouponTemplate, ReferralProgramme
from services.platform import audit
from services.platform.audit import Actor

MAX_REWARD_POINTS = 1_000_000
TemplateCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]


class RewardKind(StrEnum):
    POINTS = "points"
    COUPON = "coupon"


class ProgrammeUpdate(BaseModel):
    """The whole programme as the console's form posts it. A side rewarded with a coupon names its template;
    one rewarded with points names a count (0 rewards that side with nothing)."""

    model_config = ConfigDict(extra="forbid")

    active: bool = True
    return_window_days: int = Field(ge=0, le=365)
    monthly_limit: int = Field(ge=1, le=10_000)
    referrer_reward: RewardKind
    referrer_points: int = Field(default=0, ge=0, le=MAX_REWARD_POINTS)
    referrer_coupon: TemplateCode | None = None
    referee_reward: RewardKind
    referee_points: int = Field(default=0, ge=0, le=MAX_REWARD_POINTS)
    referee_coupon: TemplateCode | None = None

    @model_validator(mode="after")
    def _coupon_named(self) -> Self:
        for side in ("referrer", "referee"):
            if getattr(self, f"{side}_reward") == RewardKind.COUPON and not getattr(self, f"{side}_coupon"):
                raise ValueError(f"{side}_coupon: a coupon reward names its coupon template")
        return self


async def get(session: AsyncSession, *, for_update: bool = False) -> ReferralProgramme:
    """The row the migration made; a database without it (a test that emptied it) gets the defaults back."""
    stmt = select(ReferralProgramme).where(ReferralProgramme.id == 1)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        row = ReferralProgramme(
            id=1,
            active=True,
            return_window_days=14,
            monthly_limit=10,
            referrer_reward="points",
            referrer_points=500,
            referee_reward="points",
            referee_points=200,
        )
        session.add(row)
        await session.flush()
    return row


async def _check_template(session: AsyncSession, field: str, code: str | None) -> None:
    if code is None:
        return
    active = (
        await session.execute(select(CouponTemplate.active).where(CouponTemplate.code == code))
    ).scalar_one_or_none()
    if active is None:
        raise InvalidInput(
            f"coupon template {code!r} does not exist",
            code="template_not_found",
            details=[{"field": f"body.{field}", "message": "no coupon template has this code"}],
        )
    if not active:
        raise InvalidInput(
            f"coupon template {code!r} is not active",
            code="template_inactive",
            details=[{"field": f"body.{field}", "message": "this coupon template is not active"}],
        )


async def update(session: AsyncSession, data: ProgrammeUpdate, *, actor: Actor) -> ReferralProgramme:
    """Save the programme; audited as `referral_programme.update` with what it changed. Running referrals keep
    the window they started with; rewards paid from now on use the new ones."""
    for side in ("referrer", "referee"):
        if getattr(data, f"{side}_reward") == RewardKind.COUPON:
            await _check_template(session, f"{side}_coupon", getattr(data, f"{side}_coupon"))
    row = await get(session, for_update=True)
    values = data.model_dump(mode="json")
    for side in ("referrer", "referee"):  # a side's unused choice is cleared, so the row says one thing
        if values[f"{side}_reward"] == RewardKind.POINTS:
            values[f"{side}_coupon"] = None
        else:
            values[f"{side}_points"] = 0
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by = actor.name
    await session.flush()
    await audit.record(
        session,
        actor,
        action="referral_programme.update",
        target_type="referral_programme",
        target_id="1",
        details={"changed": changed},
    )
    return row
