"""Paid plan fixtures: an SMTP sink per module and settings that send to it (the renewal reminder is read
there), with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio
from pydantic import SecretStr

from core.settings import Settings
from tests.support.messaging import Sessions, SmtpSink, running_sink, seed_templates, to_sink
from tests.support.portal import SECRET


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    messaging = to_sink(smtp_sink, sender="plans")
    return settings.model_copy(update={"messaging": messaging, "secret_key": SecretStr(SECRET)})


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    await seed_templates(sessions)
