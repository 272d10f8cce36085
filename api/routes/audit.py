"""The audit log, read by admins and ops: who did what to which record, filtered and paged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import OpsKey, SessionDep
from api.pagination import AUDIT_CURSOR, CursorQuery
from api.schemas.audit import AuditOut, AuditPage
from api.schemas.common import ERROR_RESPONSES
from core.errors import InvalidInput
from services.platform import audit

router = APIRouter(prefix="/api/v1/audit", tags=["operations"], responses=ERROR_RESPONSES)
Text = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get("", response_model=AuditPage, summary="The audit log, newest first (admin, ops)")
async def list_audit(
    session: SessionDep,
    _: OpsKey,
    action: Annotated[
        str | None, Query(min_length=1, max_length=64, description='exact, or a prefix ending in "." (`journey.`)')
    ] = None,
    actor: Text = None,
    actor_key_id: uuid.UUID | None = None,
    target_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    target_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="created at or after (with a time zone)")] = None,
    until: Annotated[datetime | None, Query(description="created before (with a time zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = None,
) -> AuditPage:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(
                f"{name} needs a time zone", details=[{"field": f"query.{name}", "message": "add Z or an offset"}]
            )
    if since is not None and until is not None and since >= until:
        raise InvalidInput(
            "since must be before until", details=[{"field": "query.since", "message": "must be before until"}]
        )
    where = audit.AuditFilter(
        action=action,
        actor=actor,
        actor_key_id=actor_key_id,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
    )
    rows = await audit.entries(session, where, limit=limit + 1, after=AUDIT_CURSOR.decode(cursor))
    return AuditPage.of(rows, limit, AUDIT_CURSOR, key=lambda e: e.id, item=AuditOut.model_validate)
