"""The member 360's framework cost alone: CPU per request of memberflow's app and of bench/bare360.py with the
database stubbed out, both called as ASGI apps in this process (no HTTP, no PostgreSQL, no wrk).

On a shared machine wrk's figures move with the load; this one does not, so it shows what a change to the
routing, the dependencies or the middleware saves. The statement and the HTTP server cost the same in both
servers and are left out. Prints the median and minimum of 7 rounds.

    .venv/bin/python bench/api_framework.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

# This folder's api.py would shadow the `api` package: look here last (for bare360 only).
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE] + [HERE]
sys.path.insert(0, str(Path(HERE).parent))
os.environ.setdefault("BARE360_DSN", "postgresql://unused")

import bare360  # noqa: E402

import api.routes.members as member_routes  # noqa: E402
from api.app import create_app  # noqa: E402
from core.settings import Settings  # noqa: E402
from models import ApiKey  # noqa: E402
from services.platform import api_keys  # noqa: E402

SECRET = "mf_framework_bench_key"
BODY = '{"id": "…"}' * 300  # about the size of a 360 document


class _Driver:
    async def fetchrow(self, *_: Any) -> dict[str, Any]:
        return {"has_account": True, "body": BODY}


@contextlib.asynccontextmanager
async def _connection(*_: Any) -> AsyncIterator[_Driver]:
    yield _Driver()


class _Pool:
    def acquire(self) -> contextlib.AbstractAsyncContextManager[_Driver]:
        return _connection()


def _apps() -> tuple[Any, Any]:
    member_routes.driver_connection = _connection  # type: ignore[assignment]
    app = create_app(Settings(database_url="postgresql+asyncpg://unused/unused"))
    app.state.sessions = app.state.engine = None
    api_keys.KEYS.ttl = 1e9
    key = ApiKey(name="bench", role="integration", key_hash=api_keys.hash_secret(SECRET), prefix=SECRET[:10])
    api_keys.KEYS.put(api_keys.hash_secret(SECRET), key, generation=api_keys.KEYS.generation)
    bare360.app.state.pool = _Pool()
    return app, bare360.app


async def _cpu_us(app: Any, headers: list[tuple[bytes, bytes]], requests: int) -> float:
    path = f"/api/v1/members/{uuid.uuid4()}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    start = time.process_time()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    if statuses != {200}:
        raise SystemExit(f"unexpected statuses {statuses}")
    return (time.process_time() - start) * 1e6 / requests


async def run(requests: int) -> None:
    ours, bare = _apps()
    keyed = [(b"host", b"bench"), (b"authorization", f"Bearer {SECRET}".encode())]
    plain = [(b"host", b"bench")]
    await _cpu_us(ours, keyed, 500)
    await _cpu_us(bare, plain, 500)
    figures: dict[str, list[float]] = {"bare": [], "memberflow": []}
    for _ in range(7):
        figures["bare"].append(await _cpu_us(bare, plain, requests))
        figures["memberflow"].append(await _cpu_us(ours, keyed, requests))
    for name, values in figures.items():
        print(f"{name:10s} median {statistics.median(values):6.1f} µs  min {min(values):6.1f} µs CPU per request")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()
