"""Erasure and export responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.privacy import ErasureOutcome


class ErasureOut(BaseModel):
    member_id: uuid.UUID
    erased_at: datetime
    already_erased: bool = Field(description="An earlier erasure did this; this one scrubbed again and retried")
    rows: dict[str, int] = Field(description="Rows erased per table (deleted for idempotency records)")
    workflows_stopped: int = Field(description="Journeys and campaign runs cancelled, redemptions withdrawn")
    workflows_not_stopped: list[str] = Field(description="Temporal could not be reached for these: erase again")

    @classmethod
    def of(cls, outcome: ErasureOutcome) -> ErasureOut:
        return cls(
            member_id=outcome.member_id,
            erased_at=outcome.erased_at,
            already_erased=not outcome.first,
            rows=outcome.rows,
            workflows_stopped=outcome.stopped,
            workflows_not_stopped=outcome.not_stopped,
        )


class MemberExportOut(BaseModel):
    format: int
    exported_at: datetime
    member_id: uuid.UUID
    tables: dict[str, list[dict[str, Any]]] = Field(description="Every row held about the member, by table")
    import_records: list[dict[str, Any]] = Field(description="The member's records in uploaded import files")
