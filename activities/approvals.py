"""Activities of the RedemptionApproval workflow: open the task, escalate, settle the decision, tell staff
and the warehouse. Each commits once and is idempotent by the redemption id."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from services import rewards
from services.messaging.providers import OutgoingEmail, Providers
from services.rewards import approvals

log = logging.getLogger(__name__)


class OpenInput(BaseModel):
    redemption_id: str
    now: datetime


class Opened(BaseModel):
    approval_id: str
    member_id: str
    points: int
    reward_name: str
    requested_by_key: str | None
    escalate_at: datetime
    expires_at: datetime


class SettleInput(BaseModel):
    redemption_id: str
    outcome: str  # approved, rejected, expired, cancelled
    by: str
    reason: str | None = None


class Settled(BaseModel):
    status: str


class ShippedInput(BaseModel):
    redemption_id: str
    tracking_number: str


class StaffNotice(BaseModel):
    redemption_id: str
    kind: str  # approval_request or escalation
    points: int
    reward_name: str


class WarehouseNotice(BaseModel):
    redemption_id: str
    reward_name: str
    member_id: str


class ApprovalActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], providers: Providers, settings: Settings) -> None:
        self._sessions = sessions
        self._providers = providers
        self._settings = settings

    @activity.defn(name="approval.open")
    async def open(self, inp: OpenInput) -> Opened:
        config = self._settings.approvals
        async with self._sessions() as session:
            task = await approvals.open_task(
                session,
                uuid.UUID(inp.redemption_id),
                escalate_at=inp.now + timedelta(hours=config.escalate_after_hours),
                expires_at=inp.now + timedelta(hours=config.expire_after_hours),
            )
            redemption = await rewards.get_redemption(session, task.redemption_id)
            reward = await rewards.get(session, redemption.reward_id)
            await session.commit()
        return Opened(
            approval_id=str(task.id),
            member_id=str(task.member_id),
            points=task.points,
            reward_name=reward.name,
            requested_by_key=str(task.requested_by_key) if task.requested_by_key else None,
            escalate_at=task.escalate_at,
            expires_at=task.expires_at,
        )

    @activity.defn(name="approval.escalate")
    async def escalate(self, redemption_id: str) -> None:
        async with self._sessions() as session:
            await approvals.escalate(session, uuid.UUID(redemption_id))
            await session.commit()

    @activity.defn(name="approval.settle")
    async def settle(self, inp: SettleInput) -> Settled:
        async with self._sessions() as session:
            if inp.outcome == "approved":
                status = await approvals.approve(session, uuid.UUID(inp.redemption_id), approver=inp.by)
            else:
                status = await approvals.release(
                    session, uuid.UUID(inp.redemption_id), outcome=inp.outcome, by=inp.by, reason=inp.reason
                )
            await session.commit()
        return Settled(status=status)

    @activity.defn(name="approval.shipped")
    async def shipped(self, inp: ShippedInput) -> Settled:
        async with self._sessions() as session:
            status = await approvals.mark_shipped(
                session, uuid.UUID(inp.redemption_id), tracking_number=inp.tracking_number
            )
            await session.commit()
        return Settled(status=status)

    @activity.defn(name="approval.notify_staff")
    async def notify_staff(self, notice: StaffNotice) -> bool:
        """Email the approver group (or, on escalation, the second address). No address: nothing to do."""
        config = self._settings.approvals
        to = config.escalation_email if notice.kind == "escalation" else config.approver_email
        if not to:
            return False
        url = f"{self._settings.messaging.public_url.rstrip('/')}/api/v1/approvals?status=pending"
        subject = ("Escalated: " if notice.kind == "escalation" else "") + (
            f"Redemption of {notice.reward_name} ({notice.points} points) awaits approval"
        )
        text = f"{subject}.\nRedemption {notice.redemption_id}\nInbox: {url}\n"
        await self._providers.email.send_email(
            OutgoingEmail(
                message_id=f"{notice.kind}-{notice.redemption_id}",
                message_key=f"{notice.kind}:{notice.redemption_id}",
                to=to,
                subject=subject,
                html=f"<p>{escape(text).replace(chr(10), '<br>')}</p>",
                text=text,
            )
        )
        return True

    @activity.defn(name="approval.notify_warehouse")
    async def notify_warehouse(self, notice: WarehouseNotice) -> str:
        """Tell the warehouse to ship: a signed webhook (HMAC-SHA256 of the body, in X-Memberflow-Signature),
        or the log in development. The redemption id lets the warehouse drop a repeated call."""
        config = self._settings.approvals
        body = json.dumps(
            {"redemption_id": notice.redemption_id, "reward": notice.reward_name, "member_id": notice.member_id},
            sort_keys=True,
        ).encode()
        if config.fulfilment == "log" or not config.fulfilment_url:
            log.info("fulfilment (log adapter): %s", body.decode())
            return "logged"
        secret = self._settings.secret_key.get_secret_value().encode() if self._settings.secret_key else b""
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(
                config.fulfilment_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Memberflow-Signature": f"sha256={signature}",
                    "Idempotency-Key": notice.redemption_id,
                },
            )
        if response.status_code >= 500:
            raise ApplicationError(f"warehouse answered {response.status_code}", type="WarehouseUnavailable")
        if response.status_code >= 400:
            raise ApplicationError(
                f"warehouse refused: {response.status_code} {response.text[:200]}",
                type="WarehouseRefused",
                non_retryable=True,
            )
        return "sent"

    def all(self) -> list[Callable[..., Any]]:
        return [self.open, self.escalate, self.settle, self.shipped, self.notify_staff, self.notify_warehouse]
