"""The browser fixtures of the console (uvicorn on a free port, Debian's Chromium, a desktop page for staff,
screenshots) and the portal's phone-sized page, for the survey answer pages."""

from __future__ import annotations

from tests.console.browser.conftest import base_url, browser, context, page, screenshots
from tests.portal.browser.conftest import phone

__all__ = ["base_url", "browser", "context", "page", "phone", "screenshots"]
