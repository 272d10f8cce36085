"""The console's browser fixtures (uvicorn on a free port, Debian's Chromium, screenshots), and a phone-sized
page for the portal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.console.browser.conftest import PageProblems, base_url, browser, screenshots

__all__ = ["base_url", "browser", "screenshots"]

PHONE = {"width": 390, "height": 844}


@pytest_asyncio.fixture
async def phone(browser: Browser) -> AsyncIterator[tuple[Page, PageProblems]]:
    """A 390×844 touch page (an iPhone 12-14's viewport), with its console errors collected."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    problems = PageProblems()
    tab = await context.new_page()
    tab.on("console", problems.console)
    tab.on("pageerror", problems.page_error)
    yield tab, problems
    await context.close()
