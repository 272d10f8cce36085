"""Custom member field responses."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from models import MemberField


class MemberFieldOut(BaseModel):
    id: uuid.UUID
    key: str
    labels: dict[str, str] = Field(description='{"en": ..., "zh-CN": ...}')
    type: str
    options: list[str]
    required: bool
    personal_data: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, field: MemberField) -> MemberFieldOut:
        return cls(
            id=field.id,
            key=field.key,
            labels={"en": field.label_en, "zh-CN": field.label_zh_cn},
            type=field.type,
            options=list(field.options),
            required=field.required,
            personal_data=field.personal_data,
            created_by=field.created_by,
            created_at=field.created_at,
            updated_at=field.updated_at,
        )


class MemberFieldDeleted(BaseModel):
    key: str
    values_removed: int = Field(description="How many members' values for the field were removed (force=true)")
