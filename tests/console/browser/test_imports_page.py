"""The console's Imports pages in headless Chromium: a marketer finds a finished import in the list (from the
menu), opens it and sees its progress bar at 100%, the counts per kind and the link to the bad rows.
Screenshots go to docs/screenshots/imports.png and import.png under MEMBERFLOW_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect
from temporalio.worker import Worker

from services.platform.api_keys import Role
from tests.console.browser.conftest import PageProblems, sign_in_browser
from tests.support.helpers import ApiClient, KeyMaker
from tests.support.imports import new_import, prefix, wait_done


async def test_a_marketer_follows_an_import_to_its_counts_and_bad_rows(
    page: tuple[Page, PageProblems],
    base_url: str,
    admin: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    screenshots: Path,
) -> None:
    tab, problems = page
    import_id = await new_import(admin, prefix())
    assert (await admin.post(f"/api/v1/imports/{import_id}/start")).status_code == 202
    assert (await wait_done(admin, import_id))["state"] == "completed"

    await sign_in_browser(tab, base_url, await make_key(Role.MARKETER))
    await tab.get_by_role("link", name="Imports", exact=True).click()
    await expect(tab.get_by_role("heading", name="Imports")).to_be_visible()
    row = tab.locator("tbody tr").filter(has=tab.locator(f'a[href="/console/imports/{import_id}"]'))
    await expect(row.locator(".status")).to_have_text("completed")
    await expect(row.get_by_role("progressbar")).to_have_attribute("value", "100")
    await tab.screenshot(path=screenshots / "imports.png")

    await row.get_by_role("link").click()
    await expect(tab.get_by_test_id("import-state")).to_have_text("completed")
    await expect(tab.get_by_test_id("import-percent")).to_have_text("100%")
    await expect(tab.locator('tr[data-kind="orders"] td')).to_have_text(["orders", "7", "7", "4", "0", "3"])
    await expect(tab.locator('tr[data-kind="members"] td')).to_have_text(["members", "6", "6", "3", "0", "3"])
    download = tab.get_by_role("link", name="Download the bad rows")
    await expect(download).to_have_attribute("href", f"/console/imports/{import_id}/errors.csv")
    await tab.screenshot(path=screenshots / "import.png")
    assert problems.items == []
