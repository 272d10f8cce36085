"""How the journey canvas holds up with a big journey: the time from navigation to a drawn 60-step canvas in
headless Chromium, against the same page with a two-step journey (the machine's ceiling here: loading the
bundle and starting React cost the same for both), and the time from a click on a node to its side panel
being painted.

Starts a throw-away embedded PostgreSQL (no Temporal: the page reads only the database), seeds the built-ins,
creates both journeys, serves the API with uvicorn on a free port and drives Debian's Chromium through
Playwright. Each page load is a fresh tab (the HTTP cache is warm after the first, as for a marketer); times
are `performance.now()` in the page (milliseconds since navigation start). Writes a section of
docs/benchmarks.md.

    .venv/bin/python bench/canvas.py [--loads 7] [--clicks 20] [--steps 60] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from report import cpu_model, log, marks, write_section

from api.app import create_app
from api.console import assets
from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres, free_port
from services import journeys
from services.intake import bootstrap
from services.platform import api_keys
from services.platform.api_keys import Role
from services.platform.audit import Actor

ROOT = Path(__file__).resolve().parent.parent
SECTION = "canvas-bench"
CHROMIUM = os.environ.get("MEMBERFLOW_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1440, "height": 900}
# Targets: the big canvas draws within twice the two-step page's time, and a panel opens within 100 ms.
RENDER_RATIO_TARGET = 2.0
PANEL_P95_TARGET_MS = 100.0
SMALL = 2  # the ceiling's journey: one send and the exit (one edge)
KINDS = ("send", "wait", "wait_for", "branch", "grant_points", "tag")


def big_definition(kind: str, count: int) -> dict[str, Any]:
    """A valid journey of `count` steps cycling through six kinds; every edge points forward (no loops), waits
    for an event and branches fork to the next two steps, and the last step exits."""
    last = count - 1

    def ahead(index: int, by: int) -> str:
        return f"s{min(index + by, last)}"

    steps: list[dict[str, Any]] = []
    for index in range(last):
        step: dict[str, Any] = {"id": f"s{index}"}
        match KINDS[index % len(KINDS)]:
            case "send":
                step["send"] = {"channel": "email", "template": "welcome"}
            case "wait":
                step["wait"] = {"days": 1 + index % 3}
            case "wait_for":
                step |= {"wait_for": {"event": "order_completed", "days": 7}}
                step |= {"on_event": ahead(index, 1), "on_timeout": ahead(index, 2)}
            case "branch":
                step["branch"] = {
                    "if": {"field": "tier", "op": "in", "value": ["gold"]},
                    "then": ahead(index, 1),
                    "else": ahead(index, 2),
                }
            case "grant_points":
                step["grant_points"] = {"points": 10, "reason": "Thanks for staying with us"}
            case "tag":
                step["tag"] = {"add": [f"stage_{index}"]}
        steps.append(step)
    steps.append({"id": f"s{last}", "exit": {}})
    return {"kind": kind, "name": f"Canvas benchmark ({count} steps)", "steps": steps}


async def _prepare(url: str, sizes: tuple[int, ...]) -> str:
    """Migrate, seed, create one journey per size; the secret of a marketer key to sign in with."""
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(Settings(database_url=url))
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await bootstrap.seed(session)
        for size in sizes:
            definition = journeys.parse(big_definition(f"bench_{size}", size))
            await journeys.create(session, definition, actor=Actor.system("bench"))
        issued = await api_keys.create(session, name="bench-marketer", role=Role.MARKETER)
        await session.commit()
    await engine.dispose()
    return issued.secret


async def _serve(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


async def _first_render(browser: Browser, state: dict[str, Any], url: str, steps: int) -> float:
    """Milliseconds from navigation start until every node and edge of the canvas is in the page."""
    context = await browser.new_context(viewport=VIEWPORT, storage_state=state)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(url, wait_until="commit")
    await page.wait_for_function(
        "n => document.querySelectorAll('.react-flow__node').length === n"
        " && document.querySelectorAll('.react-flow__edge').length > 0",
        arg=steps,
        polling="raf",
        timeout=30_000,
    )
    elapsed = float(await page.evaluate("performance.now()"))
    await context.close()
    return elapsed


# Clicks a node and resolves with the milliseconds until its panel is in the page and a frame was painted.
PANEL_CLICK = """async (id) => {
  const node = document.querySelector(`.react-flow__node[data-id="${id}"]`);
  const started = performance.now();
  node.click();
  while (!document.querySelector(`[data-panel-for="${id}"]`)) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    if (performance.now() - started > 5000) throw new Error(`no panel for ${id}`);
  }
  await new Promise((resolve) => requestAnimationFrame(resolve));
  return performance.now() - started;
}"""


async def _panel_opens(page: Page, steps: int, clicks: int) -> list[float]:
    ids = [f"s{(index * 7) % steps}" for index in range(clicks)]
    times = []
    for step_id in ids:
        await page.locator(f'.react-flow__node[data-id="{step_id}"]').scroll_into_view_if_needed()
        times.append(float(await page.evaluate(PANEL_CLICK, step_id)))
    return times


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if assets.files("canvas") is None:
        raise SystemExit("the console's front end is not built: run `make frontend` first")
    root = Path(tempfile.mkdtemp(prefix="mf-canvas-bench-"))
    postgres = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
    postgres.start()
    try:
        postgres.ensure_database("bench")
        url = postgres.url("bench")
        secret = await _prepare(url, (SMALL, args.steps))
        server, task, base = await _serve(Settings(database_url=url))
        try:
            return await _measure(base, secret, args)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
    finally:
        postgres.stop()


async def _measure(base: str, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{base}/console/login")
        await page.get_by_label("API key").fill(secret)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(lambda url: "/console/login" not in url)
        state = await context.storage_state()
        small_url, big_url = f"{base}/console/journeys/bench_{SMALL}", f"{base}/console/journeys/bench_{args.steps}"
        await _first_render(browser, state, small_url, SMALL)  # warm the HTTP cache and the server
        await _first_render(browser, state, big_url, args.steps)
        log("measuring first render")
        small = [await _first_render(browser, state, small_url, SMALL) for _ in range(args.loads)]
        big = [await _first_render(browser, state, big_url, args.steps) for _ in range(args.loads)]
        await page.goto(big_url)
        await page.wait_for_function("n => document.querySelectorAll('.react-flow__node').length === n", arg=args.steps)
        log("measuring panel opens")
        panels = await _panel_opens(page, args.steps, args.clicks) if args.clicks else []
        version = browser.version
        await browser.close()
    return {"small": small, "big": big, "panels": panels, "chromium": version}


def section(figures: dict[str, Any], args: argparse.Namespace) -> str:
    small, big, panels = figures["small"], figures["big"], figures["panels"]
    ratio = statistics.median(big) / statistics.median(small)
    nan = float("nan")
    p95 = percentile(panels, 0.95) if panels else nan
    start, end = marks(SECTION)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    render_met = "met" if ratio <= RENDER_RATIO_TARGET else "NOT met"
    panel_met = "met" if p95 <= PANEL_P95_TARGET_MS else "NOT met"
    return "\n".join(
        [
            start,
            "## Journey canvas with a big journey",
            "",
            f"Run `make bench-canvas` (`bench/canvas.py`) on {when}: {os.cpu_count()} CPUs ({cpu_model()}), "
            f"headless Chromium {figures['chromium']} at {VIEWPORT['width']}×{VIEWPORT['height']}, "
            f"Python {platform.python_version()}.",
            "",
            f"- **First render**: from navigation start to every node and edge of the canvas in the page, "
            f"{args.loads} loads each in a fresh tab with a warm HTTP cache. The ceiling is the same page with a "
            "two-step journey: the bundle, React and React Flow start the same way, so the difference is what "
            f"{args.steps} steps cost.",
            f"- **Panel open**: a click on a node until its side panel is in the page and a frame is painted, "
            f"{args.clicks} clicks on nodes across the canvas.",
            "",
            "| measure | median ms | p95 ms | max ms |",
            "| --- | ---: | ---: | ---: |",
            f"| first render, {SMALL} steps (ceiling) | {statistics.median(small):,.0f} "
            f"| {percentile(small, 0.95):,.0f} | {max(small):,.0f} |",
            f"| first render, {args.steps} steps | {statistics.median(big):,.0f} | {percentile(big, 0.95):,.0f} "
            f"| {max(big):,.0f} |",
            f"| panel open ({args.steps} steps) | {statistics.median(panels or [nan]):,.1f} | {p95:,.1f} "
            f"| {max(panels or [nan]):,.1f} |",
            "",
            f"Targets: the {args.steps}-step canvas draws within {RENDER_RATIO_TARGET:g}× the {SMALL}-step page: "
            f"**{render_met}** ({ratio:.2f}×); a panel opens within {PANEL_P95_TARGET_MS:.0f} ms at p95: "
            f"**{panel_met}** ({p95:.1f} ms).",
            end,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    body = section(figures, args)
    print(body)
    write_section(args.out, body, SECTION)


if __name__ == "__main__":
    main()
