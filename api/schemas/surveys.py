"""Survey definition responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models import Survey


class SurveyOut(BaseModel):
    id: uuid.UUID
    key: str
    kind: str = Field(description="nps (0-10 and a comment), csat (1-5 and a comment) or custom (questions)")
    title: dict[str, str] = Field(description='{"en": ..., "zh-CN": ...}')
    prompt: dict[str, str] = Field(description="The score question, or a custom survey's introduction")
    comment_required: bool
    questions: list[dict[str, Any]]
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, survey: Survey) -> SurveyOut:
        return cls(
            id=survey.id,
            key=survey.key,
            kind=survey.kind,
            title={"en": survey.title_en, "zh-CN": survey.title_zh_cn},
            prompt={"en": survey.prompt_en, "zh-CN": survey.prompt_zh_cn},
            comment_required=survey.comment_required,
            questions=list(survey.questions),
            active=survey.active,
            created_by=survey.created_by,
            created_at=survey.created_at,
            updated_at=survey.updated_at,
        )


class SurveyDeleted(BaseModel):
    key: str
