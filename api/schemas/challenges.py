"""Challenge requests and responses: the definition as saved, each challenge with its counts, and a member's
runs (progress per goal) and badges."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models import Challenge, MemberBadge, MemberChallenge
from services.challenges import ChallengeDefinition, ChallengeSummary
from services.challenges.definition import Code


class ChallengeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="A unique code: lower-case letters, digits and _")
    active: bool = True
    definition: ChallengeDefinition


class ChallengeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool
    definition: ChallengeDefinition


class ChallengeOut(BaseModel):
    id: uuid.UUID
    code: str
    active: bool
    builtin: bool
    definition: dict[str, Any]
    participants: int = Field(description="Members who joined, in every window")
    in_progress: int
    completed: int
    failed: int
    created_by: str | None
    updated_at: datetime

    @classmethod
    def of(cls, summary: ChallengeSummary) -> ChallengeOut:
        challenge = summary.challenge
        return cls(
            id=challenge.id,
            code=challenge.code,
            active=challenge.active,
            builtin=challenge.builtin,
            definition=challenge.definition,
            participants=summary.participants,
            in_progress=summary.active,
            completed=summary.completed,
            failed=summary.failed,
            created_by=challenge.created_by,
            updated_at=challenge.updated_at,
        )


class ChallengeJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID


class MemberChallengeOut(BaseModel):
    id: uuid.UUID
    challenge_id: uuid.UUID
    code: str
    title: dict[str, str] = Field(description='{"en": ..., "zh-CN": ...}')
    status: str = Field(description="active, completed or failed")
    window_start: datetime
    deadline: datetime
    progress: list[dict[str, Any]] = Field(description="Per goal: kind, target, value, met (and best, for streaks)")
    ended_at: datetime | None
    reward_transaction_id: int | None

    @classmethod
    def of(cls, run: MemberChallenge, challenge: Challenge) -> MemberChallengeOut:
        return cls(
            id=run.id,
            challenge_id=challenge.id,
            code=challenge.code,
            title={"en": challenge.title_en, "zh-CN": challenge.title_zh_cn},
            status=run.status,
            window_start=run.window_start,
            deadline=run.deadline,
            progress=list(run.progress),
            ended_at=run.ended_at,
            reward_transaction_id=run.reward_transaction_id,
        )


class BadgeOut(BaseModel):
    code: str
    title: dict[str, str]
    icon: str
    earned_at: datetime

    @classmethod
    def of(cls, badge: MemberBadge) -> BadgeOut:
        return cls(
            code=badge.code,
            title={"en": badge.name_en, "zh-CN": badge.name_zh_cn},
            icon=badge.icon,
            earned_at=badge.earned_at,
        )


class MemberChallengesOut(BaseModel):
    challenges: list[MemberChallengeOut]
    badges: list[BadgeOut]
