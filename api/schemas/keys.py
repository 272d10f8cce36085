"""API key requests and responses. The secret appears once, in the creation response."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.platform.api_keys import Role


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Role
    # May read unmasked personal data with `?unmasked=true` (each read audited). Default: admin keys only.
    personal_data: bool | None = None


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


class KeyCreated(KeyOut):
    key: str
