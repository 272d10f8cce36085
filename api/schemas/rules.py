"""Rule, version, firing and dry-run shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.pagination import Page
from services.rules import SampleEvent


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    trigger: str
    priority: int
    current_version: int
    enabled: bool
    builtin: bool
    updated_at: datetime


class RuleDetailOut(RuleOut):
    definition: dict[str, Any]
    versions: list[int] = []


class RuleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: uuid.UUID
    version: int
    definition: dict[str, Any]
    created_by: str
    created_at: datetime


class FiringOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    version: int
    member_id: uuid.UUID
    trigger: str
    event_key: str
    limit_key: str
    fired_at: datetime
    results: list[dict[str, Any]]


class FiringPage(Page[FiringOut]):
    """A rule's firings, newest first."""


class RuleValidationOut(BaseModel):
    valid: bool
    problems: list[dict[str, str]]


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: SampleEvent
    # A draft rule (not saved) to evaluate with the saved ones; it replaces a saved rule of the same name.
    rule: dict[str, Any] | None = None


class VerdictOut(BaseModel):
    rule_id: uuid.UUID | None = Field(description="null for the draft rule")
    name: str
    version: int
    priority: int
    # would_fire, condition_false, limit_reached, already_fired, disabled, stopped
    status: str
    reason: str | None
    actions: list[dict[str, Any]]


class DryRunOut(BaseModel):
    trigger: str
    would_fire: list[str]
    points: int
    verdicts: list[VerdictOut]
