"""Browser test fixtures: the app served by uvicorn on a free port (same engine, same event loop) and Debian's
Chromium driven by Playwright; the real workers are the shared `workers` fixture (on the shared dev server)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page, async_playwright

from api.console import assets
from devstack.embedded import free_port

CHROMIUM = os.environ.get("MEMBERFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


@pytest_asyncio.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    """The app (its lifespan already entered by the `app` fixture) on a real port, for the browser."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test installs it as root or in CI)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


class PageProblems:
    """Console errors and uncaught exceptions seen by a page: a console page must produce none."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.items.append(f"console {message.type}: {message.text} ({message.location})")

    def page_error(self, error: Error) -> None:
        self.items.append(f"page error: {error}")


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture
async def page(context: BrowserContext) -> AsyncIterator[tuple[Page, PageProblems]]:
    problems = PageProblems()
    tab = await context.new_page()
    tab.on("console", problems.console)
    tab.on("pageerror", problems.page_error)
    yield tab, problems


@pytest.fixture(scope="session")
def screenshots(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save each page's screenshot: pytest's temporary folder, so a test run leaves the working
    tree clean, unless MEMBERFLOW_SCREENSHOTS names a folder (relative to the repository), e.g. docs/screenshots
    to refresh the README's pictures (`make screenshots`)."""
    wanted = os.environ.get("MEMBERFLOW_SCREENSHOTS")
    target = repo_root / wanted if wanted else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


async def sign_in_browser(tab: Page, base_url: str, secret: str) -> None:
    await tab.goto(f"{base_url}/console/login")
    await tab.get_by_label("API key").fill(secret)
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url(lambda url: "/console/login" not in url)


@pytest.fixture(scope="session")
def canvas_bundle(repo_root: Path) -> Path:
    """The journey canvas's Vite build; `make test` builds it first (the `frontend` target)."""
    built = assets.files("canvas")
    if built is None:
        pytest.fail("the console's front end is not built: build it with `make frontend`")
    return assets.BUILD / built[0]
