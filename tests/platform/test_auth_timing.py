"""Every kind of failed authentication answers after the same time: the floor. Each kind's median is checked
against the floor (never below it, and not much above it), not against the other kinds, so a loaded machine
that slows every request alike does not fail the test. `-s` prints the figures of docs/operating.md."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.auth_apps import app_with, bearer, client_from, fresh_address
from tests.support.console import login_token

FLOOR = float(os.environ.get("AUTH_TIMING_FLOOR", "0.15"))
# Above the floor, a request may take this much longer: the framework's own time around the padded part, with
# room for a loaded 2-core machine (more when a successful request, timed in the same run, is slow too). A failure
# whose own work outlasts the floor shows up as a median above it.
SLACK = 0.1
ROUNDS = 7
MEMBERS = "/api/v1/members"
Attempt = Callable[[], Awaitable[httpx.Response]]


async def _secrets(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """A revoked and an expired key (with a valid one, to show what a success costs)."""
    async with sessions() as session:
        revoked = await api_keys.create(session, name=f"t-rev-{uuid.uuid4().hex[:6]}", role=Role.ADMIN)
        expired = await api_keys.create(session, name=f"t-exp-{uuid.uuid4().hex[:6]}", role=Role.ADMIN)
        expired.key.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        valid = await api_keys.create(session, name=f"t-ok-{uuid.uuid4().hex[:6]}", role=Role.ADMIN)
        await session.flush()
        await api_keys.revoke(session, revoked.key.id)
        await session.commit()
    return {"revoked": revoked.secret, "expired": expired.secret, "valid": valid.secret}


async def _median(attempt: Attempt, expected: int) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = await attempt()
        times.append(time.perf_counter() - started)
        assert response.status_code == expected, response.text
    return statistics.median(times)


def _api_attempts(client: httpx.AsyncClient, keys: dict[str, str]) -> dict[str, Attempt]:
    def get(headers: dict[str, str]) -> Attempt:
        return lambda: client.get(MEMBERS, headers=headers)

    return {
        "missing": get({}),
        "malformed": get({"Authorization": "Basic dXNlcjpwYXNz"}),
        "unknown": get(bearer("mf_" + uuid.uuid4().hex)),
        "revoked": get(bearer(keys["revoked"])),
        "expired": get(bearer(keys["expired"])),
    }


def _console_attempts(client: httpx.AsyncClient, keys: dict[str, str]) -> dict[str, Attempt]:
    def post(secret: str) -> Attempt:
        async def attempt() -> httpx.Response:
            token = await login_token(client)
            started = time.perf_counter()
            response = await client.post("/console/login", data={"api_key": secret, "login_token": token})
            # Only the sign-in itself is timed: the form's GET before it is not part of the answer.
            _console_times.append(time.perf_counter() - started)
            return response

        return attempt

    return {
        "empty": post(""),
        "unknown": post("mf_" + uuid.uuid4().hex),
        "revoked": post(keys["revoked"]),
        "expired": post(keys["expired"]),
    }


_console_times: list[float] = []


async def _console_median(attempt: Attempt) -> float:
    _console_times.clear()
    for _ in range(ROUNDS):
        response = await attempt()
        assert response.status_code in (401, 422), response.text
    return statistics.median(_console_times)


async def test_every_kind_of_failure_answers_at_the_floor(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    keys = await _secrets(sessions)
    medians: dict[str, float] = {}
    async with (
        app_with(settings, engine, temporal_dev.client, failed_auth_floor_seconds=FLOOR) as app,
        client_from(app, fresh_address()) as client,
    ):
        for kind, attempt in _api_attempts(client, keys).items():
            medians[f"api {kind}"] = await _median(attempt, 401)
        for kind, attempt in _console_attempts(client, keys).items():
            medians[f"console {kind}"] = await _console_median(attempt)
        ok = await _median(lambda: client.get(MEMBERS, params={"limit": 1}, headers=bearer(keys["valid"])), 200)
    print(f"\nfloor {FLOOR * 1000:.0f} ms, median of {ROUNDS}; a success: {ok * 1000:.1f} ms")  # noqa: T201
    for kind, median in medians.items():
        print(f"  {kind:<18} {median * 1000:6.1f} ms")  # noqa: T201
    slack = max(SLACK, 4 * ok)
    for kind, median in medians.items():
        assert FLOOR <= median < FLOOR + slack, f"{kind}: {median * 1000:.1f} ms against a floor of {FLOOR * 1000:.0f}"
