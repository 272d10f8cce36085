"""API key requests and responses. The secret appears once, in the creation response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.platform.api_keys import Role


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Role
    # May read unmasked personal data with `?unmasked=true` (each read audited). Default: admin keys only.
    personal_data: bool | None = None
    # Optional expiry: a future time with its zone, or a number of days from now (not both). Neither: never.
    expires_at: AwareDatetime | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _one_expiry(self) -> KeyCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self

    def expiry(self, now: datetime | None = None) -> datetime | None:
        """When the key expires, in UTC (None: never)."""
        if self.expires_in_days is not None:
            return (now or datetime.now(UTC)) + timedelta(days=self.expires_in_days)
        return self.expires_at.astimezone(UTC) if self.expires_at is not None else None


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    source: str
    personal_data: bool
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    # To the minute: each API process writes it at most once a minute per key.
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    key: str
