"""Points: a member's balance and statement, manual adjustments, and the ops ledger check."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import AdminKey, CurrentKey, IdempotencyKeyDep, OpsKey, SessionDep
from api.pagination import LEDGER_CURSOR, CursorQuery
from api.respond import commit_write
from api.schemas.common import ERROR_RESPONSES
from api.schemas.ledger import ExpiringOut, LedgerCheckOut, LedgerPage, PointsBalanceOut, PostingOut
from api.schemas.members import LedgerLineOut, PointsOut
from services import members
from services.loyalty import invariants, ledger, points
from services.loyalty.points import AdjustmentCreate
from services.platform.audit import Actor

router = APIRouter(tags=["points"], responses=ERROR_RESPONSES)


@router.get("/api/v1/members/{member_id}/points", response_model=PointsBalanceOut, summary="Points balance")
async def get_points(member_id: uuid.UUID, session: SessionDep, _: CurrentKey) -> PointsBalanceOut:
    await members.get(session, member_id)
    balance = await ledger.balance(session, member_id)
    upcoming = await ledger.expiring(session, member_id)
    return PointsBalanceOut(
        **PointsOut.of(balance).model_dump(),
        expiring=[ExpiringOut(expires_at=at, points=amount) for at, amount in upcoming],
    )


@router.get(
    "/api/v1/members/{member_id}/ledger", response_model=LedgerPage, summary="The member's ledger lines, newest first"
)
async def get_ledger(
    member_id: uuid.UUID,
    session: SessionDep,
    _: CurrentKey,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> LedgerPage:
    after = LEDGER_CURSOR.decode(cursor)
    await members.get(session, member_id)
    lines = await ledger.statement(session, member_id, limit=limit + 1, after=after)
    return LedgerPage.of(lines, limit, LEDGER_CURSOR, key=lambda line: line.entry_id, item=LedgerLineOut.of)


@router.post(
    "/api/v1/members/{member_id}/points/adjustments",
    status_code=201,
    response_model=PostingOut,
    summary="Credit or debit points by hand (admin; reason required; audited)",
)
async def adjust_points(
    request: Request,
    member_id: uuid.UUID,
    body: AdjustmentCreate,
    session: SessionDep,
    key: AdminKey,
    idem: IdempotencyKeyDep,
) -> Response:
    ledger_key = f"adjust:{member_id}:{idem}" if idem else f"adjust:{member_id}:{uuid.uuid4()}"

    async def make() -> PostingOut:
        posting = await points.adjust(session, member_id, body, key=ledger_key, actor=Actor.of_key(key))
        return PostingOut.of(posting)

    return await commit_write(request, session, key=key, body=body, idempotency_key=idem, make=make)


@router.get(
    "/api/v1/ops/ledger/check",
    response_model=LedgerCheckOut,
    summary="Verify the ledger: zero sums, cached balances, lots",
)
async def check_ledger(session: SessionDep, _: OpsKey) -> LedgerCheckOut:
    return LedgerCheckOut.of(await invariants.check(session))
