"""Challenge definitions: create, change, list (with how many joined and completed), switch on and off, and
the start-up seeding of the built-ins. Every change by a person is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import Challenge, CouponTemplate, MemberChallenge
from services.challenges.builtins import BUILTIN_CHALLENGES
from services.challenges.definition import ChallengeDefinition
from services.platform import audit
from services.platform.audit import Actor


@dataclass(frozen=True)
class ChallengeSummary:
    challenge: Challenge
    definition: ChallengeDefinition
    participants: int
    active: int
    completed: int
    failed: int


def parse(raw: dict[str, Any]) -> ChallengeDefinition:
    return ChallengeDefinition.model_validate(raw)


def stored(definition: ChallengeDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", exclude_none=True)


def validation_details(exc: ValidationError, prefix: str = "body") -> list[dict[str, str]]:
    """pydantic's errors as the envelope's details, each naming its field."""
    return [
        {"field": ".".join([prefix, *(str(part) for part in error["loc"])]), "message": error["msg"]}
        for error in exc.errors()
    ]


async def _check_coupon(session: AsyncSession, definition: ChallengeDefinition) -> None:
    code = definition.reward.coupon
    if code is None:
        return
    found = (await session.execute(select(CouponTemplate.active).where(CouponTemplate.code == code))).first()
    if found is None:
        raise InvalidInput(
            f"no coupon template {code!r}",
            details=[{"field": "body.definition.reward.coupon", "message": f"no coupon template {code!r}"}],
        )


async def get(session: AsyncSession, challenge_id: uuid.UUID, *, for_update: bool = False) -> Challenge:
    stmt = select(Challenge).where(Challenge.id == challenge_id)
    found = (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"challenge {challenge_id} not found", code="challenge_not_found")
    return found


async def create(
    session: AsyncSession, code: str, definition: ChallengeDefinition, *, active: bool, actor: Actor
) -> Challenge:
    await _check_coupon(session, definition)
    row = (
        await session.execute(
            insert(Challenge)
            .values(
                id=uuid.uuid4(),
                code=code,
                title_en=definition.title_en,
                title_zh_cn=definition.title_zh_cn,
                enrolment=definition.enrolment.value,
                definition=stored(definition),
                active=active,
                builtin=False,
                created_by=actor.name,
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(Challenge.id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise Conflict(
            f"a challenge {code!r} exists",
            code="challenge_exists",
            details=[{"field": "body.code", "message": "taken"}],
        )
    await audit.record(session, actor, action="challenge.create", target_type="challenge", target_id=str(row))
    return await get(session, row)


async def update(
    session: AsyncSession, challenge_id: uuid.UUID, definition: ChallengeDefinition, *, active: bool, actor: Actor
) -> Challenge:
    """A new definition: members already in keep their window; new goals and rewards apply when progress is
    next measured and when they complete."""
    challenge = await get(session, challenge_id, for_update=True)
    await _check_coupon(session, definition)
    challenge.title_en = definition.title_en
    challenge.title_zh_cn = definition.title_zh_cn
    challenge.enrolment = definition.enrolment.value
    challenge.definition = stored(definition)
    challenge.active = active
    challenge.updated_at = datetime.now(UTC)
    await audit.record(
        session,
        actor,
        action="challenge.update",
        target_type="challenge",
        target_id=str(challenge.id),
        details={"active": active},
    )
    await session.flush()
    return challenge


async def summaries(session: AsyncSession) -> list[ChallengeSummary]:
    """Every challenge with its counts by status, the built-ins first, then by code."""
    counts = (
        select(
            MemberChallenge.challenge_id,
            func.count().label("participants"),
            func.count().filter(MemberChallenge.status == "active").label("active"),
            func.count().filter(MemberChallenge.status == "completed").label("completed"),
            func.count().filter(MemberChallenge.status == "failed").label("failed"),
        )
        .group_by(MemberChallenge.challenge_id)
        .subquery()
    )
    rows = await session.execute(
        select(Challenge, counts.c.participants, counts.c.active, counts.c.completed, counts.c.failed)
        .outerjoin(counts, counts.c.challenge_id == Challenge.id)
        .order_by(Challenge.builtin.desc(), Challenge.code)
    )
    return [
        ChallengeSummary(row[0], parse(row[0].definition), row[1] or 0, row[2] or 0, row[3] or 0, row[4] or 0)
        for row in rows
    ]


async def summary(session: AsyncSession, challenge_id: uuid.UUID) -> ChallengeSummary:
    await get(session, challenge_id)
    return next(s for s in await summaries(session) if s.challenge.id == challenge_id)


async def seed_builtins(session: AsyncSession) -> int:
    """Insert the built-ins that are missing (paused); never touches one a marketer changed. Returns how many."""
    added = 0
    for code, raw in BUILTIN_CHALLENGES.items():
        definition = parse(raw)
        inserted = (
            await session.execute(
                insert(Challenge)
                .values(
                    id=uuid.uuid4(),
                    code=code,
                    title_en=definition.title_en,
                    title_zh_cn=definition.title_zh_cn,
                    enrolment=definition.enrolment.value,
                    definition=stored(definition),
                    active=False,
                    builtin=True,
                    created_by="memberflow",
                )
                .on_conflict_do_nothing(index_elements=["code"])
                .returning(Challenge.id)
            )
        ).scalar_one_or_none()
        added += inserted is not None
    return added
