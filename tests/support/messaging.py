"""Messaging test helpers: an SMTP sink, the activities on a fixed clock, send inputs, members, rows, coupons."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messaging import MessagingActivities, SendMessageInput
from core.settings import MessagingSettings, Settings
from devstack.embedded import free_port
from models import Message
from services.messaging import templates
from services.messaging.providers import Providers, build_providers
from tests.support.helpers import ApiClient, create_member

Sessions = async_sessionmaker[AsyncSession]


# 12:00 in Asia/Shanghai, the members' default zone here: outside quiet hours.
NOON_SHANGHAI = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


# An SMTP server that keeps what it receives


@dataclass
class SmtpSink:
    """aiosmtpd handler: refuses `refuse-…` recipients for good and `busy-…` ones for now; keeps the rest. The
    first message to a `drop-…` recipient is kept but the connection is cut before the reply to DATA, as when
    the sending worker dies there: the server has the message, the client cannot know. A message to a
    `reject-…` recipient is refused at the end of DATA (554)."""

    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    recipients: list[str] = field(default_factory=list)  # every RCPT accepted, in order
    # DATA that began (354 sent) and whose connection dropped before the terminating line (sink_controller)
    cut_during_data: int = 0

    async def handle_RCPT(  # aiosmtpd's hook names
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if address.startswith("refuse-"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy-"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        self.recipients.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        if any(a.startswith("reject-") for a in envelope.rcpt_tos):
            return "554 5.6.0 message content refused"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        drop = [a for a in envelope.rcpt_tos if a.startswith("drop-") and a not in self.dropped]
        if drop:
            self.dropped.update(drop)
            assert _server.transport is not None
            _server.transport.close()
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


class _SinkServer(SMTP):
    """aiosmtpd's server, counting the DATA it abandons because the connection went away before the lone `.`
    (aiosmtpd then cancels the session: handle_DATA is never called and the message is gone)."""

    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(sink, **kwargs)
        self._sink = sink

    async def smtp_DATA(self, arg: str) -> None:  # aiosmtpd's command method name
        try:
            await super().smtp_DATA(arg)
        except asyncio.CancelledError:
            self._sink.cut_during_data += 1
            raise


class _SinkController(Controller):
    def factory(self) -> SMTP:
        assert isinstance(self.handler, SmtpSink)
        return _SinkServer(self.handler, **self.SMTP_kwargs)


def sink_controller(sink: SmtpSink) -> Controller:
    """An aiosmtpd server (start and stop it) on 127.0.0.1:`sink.port` that keeps its mail in `sink`."""
    return _SinkController(sink, hostname="127.0.0.1", port=sink.port)


def messaging_activities(
    sessions: Sessions,
    settings: Settings,
    *,
    now: Callable[[], datetime] | None = lambda: NOON_SHANGHAI,
    providers: Providers | None = None,
    **messaging: Any,
) -> MessagingActivities:
    if messaging:
        settings = settings.model_copy(update={"messaging": settings.messaging.model_copy(update=messaging)})
    return MessagingActivities(sessions, providers or build_providers(settings.messaging), settings, now=now)


def send_input(member_id: str, template: str = "welcome", **overrides: Any) -> SendMessageInput:
    values: dict[str, Any] = {
        "message_key": f"test-{uuid.uuid4()}:{template}",
        "member_id": member_id,
        "channel": "email",
        "template": template,
        "journey_kind": "test",
    }
    values.update(overrides)
    return SendMessageInput(**values)


async def new_member(shop: ApiClient, **overrides: Any) -> dict[str, Any]:
    return await create_member(shop, **{"email": f"m-{uuid.uuid4().hex[:10]}@example.com", **overrides})


async def message_row(sessions: Sessions, message_key: str) -> Message | None:
    async with sessions() as session:
        return (await session.execute(select(Message).where(Message.message_key == message_key))).scalar_one_or_none()


async def issued_coupon(
    marketer: ApiClient, shop: ApiClient, member_id: str, kind: str = "percent", value: str = "10"
) -> str:
    code = f"t_{uuid.uuid4().hex[:10]}"
    template = {"code": code, "name": "Test offer", "kind": kind, "value": value, "validity_days": 30}
    assert (await marketer.post("/api/v1/coupon-templates", json=template)).status_code == 201
    issued = await shop.post("/api/v1/coupons", json={"template_code": code, "member_id": member_id})
    assert issued.status_code == 201, issued.text
    coupon_code: str = issued.json()["code"]
    return coupon_code


@contextmanager
def running_sink() -> Iterator[SmtpSink]:
    """An SMTP sink on a free port, served for the `with` block (a module fixture in each mail suite)."""
    sink = SmtpSink(port=free_port())
    controller = sink_controller(sink)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def to_sink(sink: SmtpSink, *, sender: str = "hello") -> MessagingSettings:
    """Messaging settings that send to `sink` as Tea House's `sender`@teahouse.example."""
    return MessagingSettings(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_starttls=False,
        from_address=f"Tea House <{sender}@teahouse.example>",
        brand_name="Tea House",
        public_url="http://memberflow.test",
    )


async def seed_templates(sessions: Sessions) -> None:
    async with sessions() as session:
        await templates.seed_builtin_templates(session)
        await session.commit()
