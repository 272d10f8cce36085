"""What ops see of outbox rows the relay gave up on."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ParkedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    workflow_type: str | None
    workflow_id: str
    signal_name: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    parked_at: datetime | None
