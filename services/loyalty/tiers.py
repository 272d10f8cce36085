"""The tier ladder: which tier a lifetime spend buys, the earn multiplier it carries, and its upkeep."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput
from models import Member, Tier
from services.platform import audit
from services.platform.audit import Actor

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(pattern=_CODE.pattern)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    # Lifetime spend must be strictly above this to reach the tier; the first tier's is 0.
    min_spend_exclusive: Decimal = Field(ge=0, le=Decimal("1000000000"), decimal_places=2)
    earn_multiplier: Decimal = Field(gt=0, le=10, decimal_places=2)
    benefits: list[Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=list, max_length=20)

    @field_validator("min_spend_exclusive", "earn_multiplier", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('use a decimal string such as "1000.00"')
        return value


MAX_TIERS = 20


class Ladder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tiers: list[TierIn] = Field(min_length=1, max_length=MAX_TIERS)


async def ladder(session: AsyncSession) -> list[Tier]:
    return list((await session.execute(select(Tier).order_by(Tier.rank))).scalars().all())


def tier_for(tiers: Sequence[Tier], lifetime_spend: Decimal) -> Tier:
    """The highest tier whose threshold the spend is strictly above; the base tier always applies."""
    reached = tiers[0]
    for tier in tiers[1:]:
        if lifetime_spend > tier.min_spend_exclusive:
            reached = tier
    return reached


def find(tiers: Sequence[Tier], code: str) -> Tier | None:
    return next((tier for tier in tiers if tier.code == code), None)


def _validate(data: Ladder) -> None:
    problems = []
    if data.tiers[0].min_spend_exclusive != 0:
        problems.append({"field": "body.tiers.0.min_spend_exclusive", "message": "the first (base) tier starts at 0"})
    for index in range(1, len(data.tiers)):
        if data.tiers[index].min_spend_exclusive <= data.tiers[index - 1].min_spend_exclusive:
            problems.append(
                {
                    "field": f"body.tiers.{index}.min_spend_exclusive",
                    "message": "thresholds must be strictly increasing",
                }
            )
    codes = [tier.code for tier in data.tiers]
    for index, code in enumerate(codes):
        if codes.index(code) != index:
            problems.append({"field": f"body.tiers.{index}.code", "message": f"duplicate tier code {code!r}"})
    if problems:
        raise InvalidInput("the tier ladder is invalid", details=problems)


async def replace(session: AsyncSession, data: Ladder, *, actor: Actor) -> list[Tier]:
    """Replace the whole ladder. Members keep their tier until their next order re-evaluates it, so a
    tier that members hold cannot be removed."""
    _validate(data)
    kept = {tier.code for tier in data.tiers}
    in_use = (
        await session.execute(select(Member.tier, func.count()).where(Member.tier.not_in(kept)).group_by(Member.tier))
    ).all()
    if in_use:
        raise Conflict(
            "members still hold tiers this ladder removes",
            code="tier_in_use",
            details=dict(in_use),
        )
    await session.execute(delete(Tier))
    await session.flush()
    for rank, tier in enumerate(data.tiers):
        session.add(Tier(rank=rank, **tier.model_dump()))
    await session.flush()
    await audit.record(
        session,
        actor,
        action="tiers.replace",
        target_type="tiers",
        target_id="ladder",
        details=data.model_dump(mode="json"),
    )
    return await ladder(session)
