"""Messaging fixtures: an SMTP sink per module, settings that send to it, and the built-in templates seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio
from pydantic import SecretStr

from core.settings import Settings
from tests.support.messaging import Sessions, SmtpSink, running_sink, seed_templates, to_sink

SECRET = "test-secret-key-for-unsubscribe-links"


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """SMTP to the sink and a signing key, on this test's task queue."""
    messaging = to_sink(smtp_sink)
    return settings.model_copy(update={"messaging": messaging, "secret_key": SecretStr(SECRET)})


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    await seed_templates(sessions)
