"""Behaviour events from the shop; they earn points within their limits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import IdempotencyKeyDep, IntegrationKey, SessionDep, SettingsDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import EventOut
from services.intake import events
from services.intake.events import EventCreate

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=EventOut,
    summary="Record a behaviour event (check-in, review, ...) and award its points",
)
async def create_event(
    request: Request,
    body: EventCreate,
    session: SessionDep,
    key: IntegrationKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> EventOut:
        outcome = await events.ingest(session, body, task_queue=settings.temporal.task_queue)
        return EventOut(
            event_id=outcome.event_id,
            duplicate=outcome.duplicate,
            points_awarded=outcome.points_awarded,
            award_status=outcome.award_status.value,
            ledger_transaction_id=outcome.ledger_transaction_id,
        )

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)
