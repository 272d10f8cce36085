"""Failed authentications limited per source address: counted in PostgreSQL across API processes (one upsert
per failure), blocked in each process's memory, 429 too_many_failed_logins with Retry-After, for API keys and
console sign-ins alike; successes and requests without a key do not count."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import AuthFailure
from services.platform.api_keys import Role
from tests.support.auth_apps import app_with, bearer, client_from, fresh_address
from tests.support.console import login_token
from tests.support.helpers import KeyMaker, assert_error
from tests.support.statements import counting

LIMIT = 5
MEMBERS = "/api/v1/members"


async def _failures(sessions: async_sessionmaker[AsyncSession], source: str) -> int | None:
    async with sessions() as session:
        return (
            await session.execute(select(AuthFailure.failures).where(AuthFailure.source == source))
        ).scalar_one_or_none()


def _assert_blocked(response: httpx.Response, window: int = 300) -> None:
    assert_error(response, 429, "too_many_failed_logins")
    assert 1 <= int(response.headers["Retry-After"]) <= window


async def test_a_source_is_blocked_after_the_limit_even_with_a_valid_key(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    valid = await make_key(Role.OPS)
    attacker, neighbour = fresh_address(), fresh_address()
    async with app_with(settings, engine, temporal_dev.client, failed_auth_limit=LIMIT) as app:
        async with client_from(app, attacker) as client, client_from(app, neighbour) as other:
            for attempt in range(LIMIT):
                # Successes and requests without a key in between do not count.
                assert (await client.get(MEMBERS, params={"limit": 1}, headers=bearer(valid))).status_code == 200
                assert_error(await client.get(MEMBERS), 401, "missing_api_key")
                assert_error(await client.get(MEMBERS, headers=bearer(f"mf_wrong{attempt}")), 401, "invalid_api_key")
            assert await _failures(sessions, attacker) == LIMIT
            _assert_blocked(await client.get(MEMBERS, params={"limit": 1}, headers=bearer(valid)))
            _assert_blocked(await client.get(MEMBERS, headers=bearer("mf_wrong-again")))
            assert await _failures(sessions, attacker) == LIMIT  # a refused attempt costs no write
            # Another address is not affected.
            assert (await other.get(MEMBERS, params={"limit": 1}, headers=bearer(valid))).status_code == 200


async def test_the_count_is_shared_by_two_api_processes(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two apps on one database stand for two API processes: failures on either count towards one limit; the
    process that did not see the last one allows one more guess (documented), then blocks too."""
    valid = await make_key(Role.OPS)
    source = fresh_address()
    async with (
        app_with(settings, engine, temporal_dev.client, failed_auth_limit=LIMIT) as first,
        app_with(settings, engine, temporal_dev.client, failed_auth_limit=LIMIT) as second,
        client_from(first, source) as one,
        client_from(second, source) as two,
    ):
        await asyncio.wait_for(second.state.key_revocations_listening.wait(), timeout=10)  # it clears the cache
        assert (await one.get(MEMBERS, params={"limit": 1}, headers=bearer(valid))).status_code == 200  # cached
        for attempt in range(3):
            assert_error(await one.get(MEMBERS, headers=bearer(f"mf_a{attempt}")), 401, "invalid_api_key")
        for attempt in range(2):
            assert_error(await two.get(MEMBERS, headers=bearer(f"mf_b{attempt}")), 401, "invalid_api_key")
        assert await _failures(sessions, source) == LIMIT
        _assert_blocked(await two.get(MEMBERS, params={"limit": 1}, headers=bearer(valid)))
        # The first process has not heard yet: a success costs it no statement, and its next failure blocks it.
        async with counting(engine) as sent:
            assert (await one.get(MEMBERS, params={"limit": 1}, headers=bearer(valid))).status_code == 200
        assert not [s for s in sent.statements if "auth_failures" in s or "api_keys" in s], sent.describe()
        assert_error(await one.get(MEMBERS, headers=bearer("mf_c")), 401, "invalid_api_key")
        assert await _failures(sessions, source) == LIMIT + 1
        _assert_blocked(await one.get(MEMBERS, params={"limit": 1}, headers=bearer(valid)))


async def test_a_window_that_ended_starts_the_count_again(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    source = fresh_address()
    async with (
        app_with(settings, engine, temporal_dev.client, failed_auth_limit=LIMIT, failed_auth_window_seconds=60) as app,
        client_from(app, source) as client,
    ):
        for attempt in range(2):
            assert_error(await client.get(MEMBERS, headers=bearer(f"mf_x{attempt}")), 401)
        async with sessions() as session:
            ended = AuthFailure.window_start - timedelta(minutes=2)
            await session.execute(update(AuthFailure).where(AuthFailure.source == source).values(window_start=ended))
            await session.commit()
        assert_error(await client.get(MEMBERS, headers=bearer("mf_y")), 401)
        assert await _failures(sessions, source) == 1


async def test_console_sign_ins_are_limited_with_a_clear_message(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    make_key: KeyMaker,
) -> None:
    admin = await make_key(Role.ADMIN)
    source = fresh_address()
    async with (
        app_with(settings, engine, temporal_dev.client, failed_auth_limit=3) as app,
        client_from(app, source) as browser,
    ):
        for attempt in range(3):
            token = await login_token(browser)
            response = await browser.post("/console/login", data={"api_key": f"mf_no{attempt}", "login_token": token})
            assert response.status_code == 401
            assert "not valid or was revoked" in response.text
        token = await login_token(browser)
        response = await browser.post("/console/login", data={"api_key": admin, "login_token": token})
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 300
        assert "Too many failed sign-ins from your network address. Try again in 5 minutes." in response.text
        assert "mf_console=" not in response.headers.get("set-cookie", "")
        # The API refuses the same address too: one count for every way in.
        _assert_blocked(await browser.get(MEMBERS, params={"limit": 1}, headers=bearer(admin)))


async def test_ended_windows_are_deleted_by_the_process_that_counted(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    source, current = fresh_address(), fresh_address()
    async with app_with(settings, engine, temporal_dev.client, failed_auth_window_seconds=60) as app:
        for address in (source, current):
            async with client_from(app, address) as client:
                assert_error(await client.get(MEMBERS, headers=bearer("mf_nope")), 401)
        async with sessions() as session:
            ended = AuthFailure.window_start - timedelta(minutes=2)
            await session.execute(update(AuthFailure).where(AuthFailure.source == source).values(window_start=ended))
            await session.commit()
        await app.state.auth_guard.sweep()
    assert await _failures(sessions, source) is None
    assert await _failures(sessions, current) == 1
