"""Referral fixtures: an SMTP sink per module the members' welcome mails go to (so the journeys they start
settle and time can skip to the return window), with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio

from core.settings import Settings
from tests.support.messaging import Sessions, SmtpSink, running_sink, seed_templates, to_sink


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return settings.model_copy(update={"messaging": to_sink(smtp_sink, sender="referrals")})


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    await seed_templates(sessions)
