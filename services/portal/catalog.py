"""The reward catalog as a signed-in member sees it, one-tap redemption and withdrawing a redemption under review.

Redemption goes through the same service as the shop's API (services.rewards): at or below the approval
threshold the points are spent at once; above it they are held and the RedemptionApproval workflow opens the
approver's task, which the member may withdraw while it is pending (the workflow's cancel update, as the
API's cancel route sends it). Each redeem form carries a random token used as an Idempotency-Key in
services.platform.idempotency, scoped by the member's id (a uuid7 of the members table, so it never equals an
API key's id): a second tap with the same token gets the first redemption back and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict, InvalidInput, NotFound
from models import Redemption, Reward
from services import rewards
from services.loyalty import ledger
from services.platform import idempotency
from services.rewards import approvals
from workflows import contracts

REQUESTED_BY = "portal"
REDEEM_SCOPE = "/portal/rewards/redeem"
WITHDRAW_REASON = "withdrawn by the member in the portal"
FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RECENT_REDEMPTIONS = 10
OPENING_WAIT = 5.0


@dataclass(frozen=True)
class CatalogItem:
    reward: Reward
    affordable: bool
    missing: int  # points still to earn (0 when affordable)
    needs_approval: bool
    in_stock: bool


@dataclass(frozen=True)
class Catalog:
    available: int
    items: list[CatalogItem]


async def catalog(session: AsyncSession, member_id: uuid.UUID) -> Catalog:
    """The active rewards, cheapest first, each with whether the member's available points reach it now."""
    available = (await ledger.balance(session, member_id)).available
    items = [
        CatalogItem(
            reward=reward,
            affordable=reward.points_cost <= available,
            missing=max(0, reward.points_cost - available),
            needs_approval=reward.points_cost > rewards.approval_threshold(reward),
            in_stock=reward.stock is None or reward.stock > 0,
        )
        for reward in await rewards.catalog(session, active_only=True)
    ]
    return Catalog(available, items)


def _form_token(raw: str) -> str:
    if not FORM_TOKEN.match(raw):
        raise InvalidInput("this form cannot be sent again: reload the page", code="invalid_form_token")
    return raw


async def redeem(
    session: AsyncSession, member_id: uuid.UUID, reward_id: uuid.UUID, *, form_token: str, task_queue: str
) -> tuple[Redemption, bool]:
    """Redeem `reward_id` for the member; the redemption and whether it is a replay of the same form's first tap.

    Refusals are the rewards service's, and leave nothing behind (the caller rolls back): NotFound for a reward
    that is gone, Conflict `reward_inactive`, `out_of_stock`, `insufficient_points`; Conflict
    `idempotency_conflict` when the token was already used for another reward."""
    token = _form_token(form_token)
    claim = await idempotency.claim(
        session,
        api_key_id=member_id,
        method="POST",
        path=REDEEM_SCOPE,
        key=token,
        body_hash=hashlib.sha256(str(reward_id).encode()).hexdigest(),
    )
    if isinstance(claim, idempotency.StoredResponse):
        first = await own_redemption(session, member_id, uuid.UUID(str(claim.body["redemption_id"])))
        return first, True
    redemption = await rewards.request_redemption(
        session,
        rewards.RedemptionCreate(member_id=member_id, reward_id=reward_id),
        requested_by=REQUESTED_BY,
        task_queue=task_queue,
    )
    await idempotency.complete(session, claim, status=201, body={"redemption_id": str(redemption.id)})
    return redemption, False


async def own_redemption(session: AsyncSession, member_id: uuid.UUID, redemption_id: uuid.UUID) -> Redemption:
    """One of the member's redemptions; another member's is the same NotFound as one that does not exist."""
    found = await session.get(Redemption, redemption_id, populate_existing=True)
    if found is None or found.member_id != member_id:
        raise NotFound("there is no such redemption", code="redemption_not_found")
    return found


async def reward_name(session: AsyncSession, reward_id: uuid.UUID) -> str:
    reward = await session.get(Reward, reward_id)
    return reward.name if reward is not None else ""


async def recent(session: AsyncSession, member_id: uuid.UUID) -> list[tuple[Redemption, str]]:
    """The member's latest redemptions with the reward's name, newest first."""
    rows = await session.execute(
        select(Redemption, Reward.name)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.member_id == member_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(RECENT_REDEMPTIONS)
    )
    return [(redemption, name) for redemption, name in rows.all()]


async def withdraw(session: AsyncSession, temporal: Client, member_id: uuid.UUID, redemption_id: uuid.UUID) -> str:
    """Withdraw the member's redemption under review: the approval workflow releases the held points. Conflict
    `already_decided` once it is no longer pending; NotFound for a redemption that is not the member's.

    The session's read transaction ends before the update, so no connection waits idle while the workflow's
    activities settle it; the redemption's status afterwards is returned."""
    redemption = await own_redemption(session, member_id, redemption_id)
    if redemption.status != "pending_approval":
        raise Conflict(f"this redemption is {redemption.status}", code="already_decided")
    await session.rollback()
    await _opened(temporal, redemption_id)
    await approvals.send_update(
        temporal, redemption_id, contracts.CANCEL_UPDATE, contracts.CancelRequest(reason=WITHDRAW_REASON)
    )
    return (await own_redemption(session, member_id, redemption_id)).status


async def _opened(temporal: Client, redemption_id: uuid.UUID) -> None:
    """Wait (at most OPENING_WAIT seconds) until the redemption's approval workflow, started from the outbox
    right after the redemption committed, has opened its task: a member who taps withdraw at once is then
    answered by the workflow, not refused because it was still starting."""
    handle = temporal.get_workflow_handle(contracts.redemption_workflow_id(redemption_id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OPENING_WAIT
    while loop.time() < deadline:
        try:
            status = await handle.query(contracts.STATUS_QUERY, result_type=contracts.ApprovalStatus)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        else:
            if status.status != "opening":
                return
        await asyncio.sleep(0.05)
