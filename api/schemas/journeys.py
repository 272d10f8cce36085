"""Journey, run and task responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from api.pagination import Page
from services.privacy.masking import View


class JourneyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    name: str
    current_version: int
    enabled: bool
    builtin: bool
    updated_at: datetime


class JourneyVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    version: int
    definition: dict[str, Any]
    created_by: str
    created_at: datetime


class JourneyDetailOut(JourneyOut):
    definition: dict[str, Any]
    versions: list[int]


class ValidationOut(BaseModel):
    valid: bool
    problems: list[dict[str, str]]


class JourneyRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: str
    workflow_id: str
    member_id: uuid.UUID
    kind: str
    version: int
    campaign_id: str | None
    status: str
    current_step: str
    steps: list[dict[str, Any]]
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    temporal_url: str = ""


class RunPage(Page[JourneyRunOut]):
    """A journey's runs, by run id descending."""


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    # Null where the caller's view hides staff notes (services.privacy.masking).
    title: str | None
    assignee_role: str
    status: str
    due_at: datetime | None
    created_at: datetime
    done_at: datetime | None
    done_by: str | None

    @classmethod
    def of(cls, task: Any, view: View) -> TaskOut:
        """The task with its note as `view` shows it."""
        out = cls.model_validate(task)
        out.title = view.apply("staff_tasks", "title", out.title)
        return out
