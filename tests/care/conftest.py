"""Care fixtures: an SMTP sink per module and settings that send to it (the ticket confirmations and survey
invitations are read there), a signing key for the survey links, with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from core.settings import MessagingSettings, Settings
from devstack.embedded import free_port
from services.messaging import templates
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import SECRET


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    messaging = MessagingSettings(
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_starttls=False,
        from_address="Tea House <care@teahouse.example>",
        brand_name="Tea House",
        public_url="http://memberflow.test",
    )
    return settings.model_copy(update={"messaging": messaging, "secret_key": SecretStr(SECRET)})


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    async with sessions() as session:
        await templates.seed_builtin_templates(session)
        await session.commit()
