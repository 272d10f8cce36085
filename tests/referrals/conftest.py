"""Referral fixtures: an SMTP sink per module the members' welcome mails go to (so the journeys they start
settle and time can skip to the return window), with the built-in templates seeded."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.support.mail_fixtures import seeded, smtp_sink
from tests.support.messaging import SmtpSink, to_sink


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return settings.model_copy(update={"messaging": to_sink(smtp_sink, sender="referrals")})


__all__ = ["seeded", "smtp_sink"]  # the shared fixtures, in this suite's scope
