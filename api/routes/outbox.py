"""The Temporal outbox as ops see it: rows the relay parked after repeated failures, and retrying them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.boundary import commit
from api.deps import OpsKey, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.outbox import ParkedOut
from services.platform import outbox
from services.platform.audit import Actor

router = APIRouter(prefix="/api/v1/outbox", tags=["operations"], responses=ERROR_RESPONSES)


@router.get("/parked", response_model=list[ParkedOut], summary="Starts and signals the relay gave up on (ops)")
async def list_parked(
    session: SessionDep, _: OpsKey, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ParkedOut]:
    return [ParkedOut.model_validate(row) for row in await outbox.parked(session, limit=limit)]


@router.post("/{row_id}/retry", response_model=ParkedOut, summary="Put a parked row back in line (ops, audited)")
async def retry_parked(row_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, key: OpsKey) -> ParkedOut:
    row = await outbox.retry_parked(session, row_id, Actor.of_key(key))
    out = ParkedOut.model_validate(row)
    await commit(session)
    return out
