"""Paid plan fixtures: an SMTP sink per module and settings that send to it (the renewal reminder is read
there), with the built-in templates seeded."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.settings import Settings
from tests.support.mail_fixtures import seeded, smtp_sink
from tests.support.messaging import SmtpSink, to_sink
from tests.support.portal import SECRET


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    messaging = to_sink(smtp_sink, sender="plans")
    return settings.model_copy(update={"messaging": messaging, "secret_key": SecretStr(SECRET)})


__all__ = ["seeded", "smtp_sink"]  # the shared fixtures, in this suite's scope
