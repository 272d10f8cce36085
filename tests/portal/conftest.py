"""Portal fixtures: an SMTP sink per module and settings that send to it, a signing key, the built-in templates
seeded, and a second client (another browser) for the tests that need two members at once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from core.settings import PortalSettings, Settings
from tests.support.mail_fixtures import seeded, smtp_sink
from tests.support.messaging import SmtpSink, to_sink
from tests.support.portal import SECRET


@pytest.fixture
def portal_settings() -> PortalSettings:
    """The portal's settings; a test overrides this fixture (or its limits) to try them."""
    return PortalSettings(brand_name="Tea House", primary_color="#7c2d12", accent_color="#d97706")


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink, portal_settings: PortalSettings) -> Settings:
    messaging = to_sink(smtp_sink)
    return settings.model_copy(
        update={"messaging": messaging, "portal": portal_settings, "secret_key": SecretStr(SECRET)}
    )


def _client(app: FastAPI) -> httpx.AsyncClient:
    """A client whose requests come from a loopback address of its own (no traffic goes there: it is only the
    ASGI scope's client), so the per-source limit counts this test's requests, not the whole session's."""
    source = f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(source, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://memberflow.test")


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


@pytest_asyncio.fixture
async def other_browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second cookie jar on the same app: another member's phone."""
    async with _client(app) as client:
        yield client


__all__ = ["seeded", "smtp_sink"]  # the shared fixtures, in this suite's scope
