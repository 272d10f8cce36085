"""Approval inbox requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from models import Approval
from services.privacy.masking import View


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    redemption_id: uuid.UUID
    member_id: uuid.UUID
    points: int
    status: str
    escalated: bool
    requested_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    escalate_at: datetime
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, approval: Approval, view: View) -> ApprovalOut:
        out = cls.model_validate(approval)
        out.reason = view.apply("approvals", "reason", out.reason)
        return out


class InboxItemOut(ApprovalOut):
    reward_name: str
    member: dict[str, Any]
    risk_hints: list[str]


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class ShippedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
