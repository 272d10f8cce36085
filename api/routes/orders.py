"""Orders: ingestion from the shop, and reading one back."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CurrentKey, IdempotencyKeyDep, IntegrationKey, SessionDep, SettingsDep
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.loyalty import RefundOut, RefundResultOut
from api.schemas.orders import OrderOut
from services.intake import orders
from services.intake.orders import OrderCreate, RefundCreate

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], responses=ERROR_RESPONSES)


@router.post(
    "", status_code=201, response_model=OrderOut, summary="Ingest a completed order (updates spend, earns points)"
)
async def create_order(
    request: Request,
    body: OrderCreate,
    session: SessionDep,
    key: IntegrationKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> OrderOut:
        return OrderOut.model_validate(await orders.ingest(session, body, task_queue=settings.temporal.task_queue))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/{order_id}", response_model=OrderOut, summary="Read an order")
async def get_order(order_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> OrderOut:
    return OrderOut.model_validate(await orders.get(session, order_id))


@router.post(
    "/{order_id}/refunds",
    status_code=201,
    response_model=RefundResultOut,
    summary="Refund part or all of an order (claws back its points proportionally)",
)
async def refund_order(
    request: Request,
    order_id: uuid.UUID,
    body: RefundCreate,
    session: SessionDep,
    key: IntegrationKey,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> RefundResultOut:
        outcome = await orders.refund(session, order_id, body)
        return RefundResultOut(
            refund=RefundOut.model_validate(outcome.refund), order=OrderOut.model_validate(outcome.order)
        )

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)
