"""KPI response times on the demo data set: load `memberflow demo` into a fresh embedded PostgreSQL (or use
--database-url), then time every KPI query over the default 90 days and over two years.

    .venv/bin/python bench/kpis.py [--members 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from core.migrate import upgrade
from devstack.embedded import EmbeddedPostgres, free_port
from services.analytics import kpis

ROOT = Path(__file__).resolve().parent.parent


def _load_demo(url: str, members: int) -> float:
    env = {**os.environ, "MEMBERFLOW_DATABASE_URL": url}
    started = time.monotonic()
    subprocess.run(
        [str(ROOT / ".venv/bin/memberflow"), "demo", "--members", str(members)], check=True, env=env, cwd=ROOT
    )
    return time.monotonic() - started


async def _time(url: str, rounds: int) -> list[tuple[str, str, float, float]]:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    today = datetime.now(UTC).date()
    periods = {
        "90 days": kpis.Period.of(None, today, None),
        "2 years": kpis.Period.of(today - timedelta(days=730), today, None),
    }
    value = Decimal("0.01")
    queries: dict[str, Callable[[Any, kpis.Period], Awaitable[object]]] = {
        "tiers": kpis.tiers,
        "members": kpis.member_activity,
        "purchases": kpis.purchases,
        "clv": kpis.clv,
        "retention": kpis.retention,
        "points": lambda s, p: kpis.points(s, p, point_value=value, currency="CNY"),
        "coupons": kpis.coupons,
        "journeys": lambda s, p: kpis.journeys(s, p, attribution_days=7),
        "messages": kpis.messages,
    }
    rows = []
    try:
        for period_name, period in periods.items():
            for name, query in queries.items():
                times = []
                for _ in range(rounds):
                    async with sessions() as session:
                        started = time.perf_counter()
                        await query(session, period)
                        times.append((time.perf_counter() - started) * 1000)
                rows.append((name, period_name, statistics.median(times), max(times)))
    finally:
        await engine.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    server = None
    url = args.database_url
    if url is None:
        root = Path(tempfile.mkdtemp(prefix="kpi-bench-"))
        server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
        server.start()
        server.ensure_database("memberflow")
        url = server.url("memberflow")
        upgrade(url)
    try:
        loaded = _load_demo(url, args.members)
        print(f"demo loaded in {loaded:.0f} s", flush=True)
        print("| KPI | period | median ms | max ms |\n| --- | --- | ---: | ---: |")
        for name, period, median, worst in asyncio.run(_time(url, args.rounds)):
            print(f"| {name} | {period} | {median:.0f} | {worst:.0f} |")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
