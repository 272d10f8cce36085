"""Points at checkout, for the shop (integration key): quote, hold, capture, release; the programme's rate
(read by any key, replaced by admins)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.boundary import commit
from api.deps import AdminKey, CurrentKey, IdempotencyKeyDep, IntegrationKey, SessionDep, SettingsDep
from api.respond import commit_write
from api.schemas.checkouts import CheckoutOut, CheckoutRateOut, QuoteOut
from api.schemas.common import ERROR_RESPONSES
from services.intake import orders
from services.loyalty import checkout_rate, checkouts
from services.loyalty.checkout_rate import QuoteRequest, RateUpdate
from services.loyalty.checkouts import CaptureRequest, CheckoutCreate
from services.platform.audit import Actor

router = APIRouter(tags=["checkouts"], responses=ERROR_RESPONSES)


class _NoBody(BaseModel):
    """A release carries nothing: its Idempotency-Key replays by path alone."""


_NO_BODY = _NoBody()


@router.get("/api/v1/checkout-settings", response_model=CheckoutRateOut, summary="The rate of points at checkout")
async def get_rate(session: SessionDep, _: CurrentKey) -> CheckoutRateOut:
    return CheckoutRateOut.model_validate(await checkout_rate.current(session))


@router.put(
    "/api/v1/checkout-settings",
    response_model=CheckoutRateOut,
    summary="Replace the rate, cap, minimum and hold time of points at checkout (admin; audited)",
)
async def put_rate(body: RateUpdate, session: SessionDep, key: AdminKey) -> CheckoutRateOut:
    out = CheckoutRateOut.model_validate(await checkout_rate.update(session, body, actor=Actor.of_key(key)))
    await commit(session)
    return out


@router.post(
    "/api/v1/checkouts/quote",
    response_model=QuoteOut,
    summary="How many points an order may use and what they are worth (writes nothing)",
)
async def quote(body: QuoteRequest, session: SessionDep, _: IntegrationKey) -> QuoteOut:
    return QuoteOut.model_validate(await checkout_rate.quote(session, body))


@router.post(
    "/api/v1/checkouts",
    status_code=201,
    response_model=CheckoutOut,
    summary="Hold points for a checkout until the order completes, it is released, or it times out",
)
async def create_checkout(
    request: Request,
    body: CheckoutCreate,
    session: SessionDep,
    key: IntegrationKey,
    settings: SettingsDep,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> CheckoutOut:
        checkout = await checkouts.create(session, body, task_queue=settings.temporal.task_queue)
        return CheckoutOut.model_validate(checkout)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get("/api/v1/checkouts/{checkout_id}", response_model=CheckoutOut, summary="Read a checkout")
async def get_checkout(checkout_id: uuid.UUID, session: SessionDep, _: IntegrationKey) -> CheckoutOut:
    return CheckoutOut.model_validate(await checkouts.get(session, checkout_id))


@router.post(
    "/api/v1/checkouts/{checkout_id}/capture",
    response_model=CheckoutOut,
    summary="Spend a checkout's held points on an ingested order (or send `checkout_id` with the order)",
)
async def capture_checkout(
    request: Request,
    checkout_id: uuid.UUID,
    body: CaptureRequest,
    session: SessionDep,
    key: IntegrationKey,
    idem: IdempotencyKeyDep,
) -> Response:
    async def make() -> CheckoutOut:
        order = await orders.get(session, body.order_id)
        return CheckoutOut.model_validate(await checkouts.capture(session, checkout_id, order, field="body.order_id"))

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make, status_code=200)


@router.post(
    "/api/v1/checkouts/{checkout_id}/release",
    response_model=CheckoutOut,
    summary="The checkout was abandoned: its held points are available again",
)
async def release_checkout(
    request: Request, checkout_id: uuid.UUID, session: SessionDep, key: IntegrationKey, idem: IdempotencyKeyDep
) -> Response:
    async def make() -> CheckoutOut:
        return CheckoutOut.model_validate(await checkouts.release(session, checkout_id))

    return await commit_write(
        request, session, key=key, body=_NO_BODY, idempotency_key=idem, make=make, status_code=200
    )
