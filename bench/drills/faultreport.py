"""What the fault drills share when they report: the machine line, the clients they drive the API with, and
their section of docs/reliability.md (each between its own marks)."""

from __future__ import annotations

import contextlib
import os
import platform
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from faultload import Shop
from faultstack import ROOT, FaultStack
from report import log, marks, write_section

RELIABILITY = ROOT / "docs" / "reliability.md"


def machine_line(command: str, script: str) -> str:
    return (
        f"Run `{command}` (`bench/drills/{script}`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} "
        f"CPUs, Python {platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f} at the end "
        "(other work shared the machine)."
    )


def outcomes(seen: Counter[str]) -> str:
    """Every answer the shop saw, most frequent first: `201` x 1,200, `503 database_unavailable` x 40 ..."""
    return ", ".join(f"`{k}` x {v:,}" for k, v in seen.most_common()) or "none"


def verdict_line(ok: bool, problems: list[str], good: str = "nothing lost, nothing twice") -> str:
    return f"**Verdict: {good if ok else 'FAILED: ' + '; '.join(problems[:10])}.**"


def write(section: str, lines: list[str], out: Path = RELIABILITY) -> None:
    start, end = marks(section)
    write_section(out, "\n".join([start, *lines, end]), section)
    log(f"wrote the {section} section of {out}")


@contextlib.asynccontextmanager
async def clients(stack: FaultStack, timeout: float = 30) -> AsyncIterator[tuple[httpx.AsyncClient, Shop]]:
    """An admin client on the first API server (for the checks) and a shop (an integration key) on all of them."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with contextlib.AsyncExitStack() as stack_of:
        admin = await stack_of.enter_async_context(
            httpx.AsyncClient(base_url=stack.url(0), timeout=timeout, headers=_bearer(stack.admin_key))
        )
        response = await admin.post("/api/v1/keys", json={"name": "drill-shop", "role": "integration"})
        response.raise_for_status()
        shop_key = response.json()["key"]
        shops = [
            await stack_of.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, headers=_bearer(shop_key))
            )
            for url in stack.urls
        ]
        yield admin, Shop(shops)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
