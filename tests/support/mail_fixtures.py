"""Fixtures for the suites whose messages are read from a real SMTP sink: one sink per module and the built-in
templates seeded before each test. A suite's conftest imports both and says in its own `settings` fixture who
sends (`to_sink(smtp_sink, sender=...)`), so each suite's mail is told apart in a failing test's output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio

from tests.support.messaging import Sessions, SmtpSink, running_sink, seed_templates


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


@pytest_asyncio.fixture(autouse=True)
async def seeded(sessions: Sessions) -> None:
    await seed_templates(sessions)
