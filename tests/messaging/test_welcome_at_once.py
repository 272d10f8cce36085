"""A member who buys at the till right after signing up still gets the welcome: exactly one welcome email in the
SMTP sink, with the one new-member coupon, and the welcome run ends after it (the built-in's `exit_from`).
Real parts: the API, the outbox, the worker and channel workers on the dev server, aiosmtpd. The workers start
only after the sign-ups and orders, as when the engine is behind: each run's first task already holds the order."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import Coupon, JourneyRun, Message
from services.messaging.providers import message_id_header
from tests.support.helpers import ApiClient, midday_zone, new_member_id, order_body
from tests.support.messaging import Sessions, SmtpSink
from tests.support.temporal import started_workers

MEMBERS = 4


async def _until(check: object, what: str, timeout: float = 60.0) -> None:
    """Poll `check` (an async callable returning bool) until it holds, or fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _welcome_run(sessions: Sessions, member_id: str) -> JourneyRun | None:
    async with sessions() as session:
        return (
            await session.execute(select(JourneyRun).where(JourneyRun.workflow_id == f"journey-welcome-{member_id}"))
        ).scalar_one_or_none()


async def _sign_up_and_buy(shop: ApiClient) -> tuple[str, str]:
    email = f"till-{uuid.uuid4().hex[:8]}@example.com"
    member_id = await new_member_id(shop, email=email, timezone=midday_zone(), consent={"email": True, "sms": False})
    response = await shop.post("/api/v1/orders", json=order_body(member_id))
    assert response.status_code == 201, response.text
    return member_id, email


async def test_an_order_at_once_after_sign_up_gets_exactly_one_welcome_email_and_one_coupon(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink, temporal: WorkflowEnvironment
) -> None:
    signed_up = await asyncio.gather(*(_sign_up_and_buy(shop) for _ in range(MEMBERS)))
    async with started_workers(temporal.client, sessions, settings):
        for member_id, email in signed_up:
            await _check_one_welcome(sessions, settings, smtp_sink, member_id, email)


async def _check_one_welcome(
    sessions: Sessions, settings: Settings, smtp_sink: SmtpSink, member_id: str, email: str
) -> None:
    async def ended() -> bool:
        run = await _welcome_run(sessions, member_id)
        return run is not None and run.status != "running"

    await _until(ended, f"the welcome run of {member_id} to end")
    run = await _welcome_run(sessions, member_id)
    assert run is not None
    assert (run.status, run.current_step) == ("exited", "welcome_message")  # exited after, not before it
    async with sessions() as session:
        welcomes = (
            (
                await session.execute(
                    select(Message).where(Message.member_id == uuid.UUID(member_id), Message.template == "welcome")
                )
            )
            .scalars()
            .all()
        )
        coupons = (
            (await session.execute(select(Coupon.code).where(Coupon.member_id == uuid.UUID(member_id)))).scalars().all()
        )
    assert [m.status for m in welcomes] == ["sent"]
    assert len(coupons) == 1
    welcome_id = message_id_header(welcomes[0].message_key, settings.messaging.from_address)

    async def delivered() -> bool:
        return any(m["Message-ID"] == welcome_id for m in smtp_sink.to(email))

    await _until(delivered, f"the welcome email to {email}")
    in_sink = [m for m in smtp_sink.to(email) if m["Message-ID"] == welcome_id]
    assert len(in_sink) == 1
    assert coupons[0] in in_sink[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
