"""API keys: created by admins or the CLI, stored hashed, revocable; the bootstrap admin key."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from core.errors import Unauthorized
from core.settings import Settings
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role, hash_secret
from tests.support.helpers import ApiClient, KeyMaker, assert_error


async def test_admin_creates_a_key_that_works_and_is_stored_hashed(
    admin: ApiClient, http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await admin.post("/api/v1/keys", json={"name": "shop-prod", "role": "integration"})
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["key"]
    assert secret.startswith("mf_")
    assert created["role"] == "integration"
    shop = ApiClient(http, secret)
    assert (await shop.get("/api/v1/members", params={"limit": 1})).status_code == 200
    async with sessions() as session:
        row = (await session.execute(select(ApiKey).where(ApiKey.id == uuid.UUID(created["id"])))).scalar_one()
    assert row.key_hash == hash_secret(secret)
    assert secret not in (row.key_hash, row.prefix)
    listed = (await admin.get("/api/v1/keys")).json()
    assert all("key" not in k for k in listed)
    assert created["id"] in {k["id"] for k in listed}


async def test_revoked_key_stops_working(admin: ApiClient, http: httpx.AsyncClient) -> None:
    created = (await admin.post("/api/v1/keys", json={"name": "temp", "role": "ops"})).json()
    revoked = await admin.delete(f"/api/v1/keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    ops = ApiClient(http, created["key"])
    assert_error(await ops.get("/api/v1/members"), 401, "invalid_api_key")
    assert_error(await admin.delete(f"/api/v1/keys/{uuid.uuid4()}"), 404, "api_key_not_found")


async def test_key_creation_validates_role_and_name(admin: ApiClient) -> None:
    error = assert_error(await admin.post("/api/v1/keys", json={"name": "x", "role": "superuser"}), 422)
    assert error["details"][0]["field"] == "body.role"
    assert_error(await admin.post("/api/v1/keys", json={"name": "", "role": "ops"}), 422)


async def test_bootstrap_admin_key_from_settings_and_rotation(base_settings: Settings, engine: AsyncEngine) -> None:
    first, second = f"bootstrap-{uuid.uuid4().hex}", f"bootstrap-{uuid.uuid4().hex}"

    async def status_with(configured: str, presented: str) -> int:
        app = create_app(base_settings.model_copy(update={"admin_key": SecretStr(configured)}), engine=engine)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                response = await client.get("/api/v1/keys", headers={"Authorization": f"Bearer {presented}"})
                return response.status_code

    assert await status_with(first, first) == 200
    assert await status_with(second, second) == 200
    assert await status_with(second, first) == 401  # rotating the variable retires the old value


def test_cli_creates_a_key(database_url: str, repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "keys", "create", "--role", "marketer", "--name", "campaign-team"],
        env={**os.environ, "MEMBERFLOW_DATABASE_URL": database_url},
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("key: "))
    assert line.removeprefix("key: ").startswith("mf_")
    assert "marketer" in result.stdout


def test_cli_rejects_an_unknown_role(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "keys", "create", "--role", "root", "--name", "x"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


async def test_a_cached_key_is_refused_at_once_after_its_revocation(
    admin: ApiClient, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    created = (await admin.post("/api/v1/keys", json={"name": "cached", "role": "ops"})).json()
    ops = ApiClient(http, created["key"])
    assert (await ops.get("/api/v1/members", params={"limit": 1})).status_code == 200
    # Now cached: the next requests send no query about the key.
    assert api_keys.KEYS.get(hash_secret(created["key"])) is not None
    with _key_lookups(engine) as lookups:
        for _ in range(3):
            assert (await ops.get("/api/v1/members", params={"limit": 1})).status_code == 200
    assert lookups == []
    assert (await admin.delete(f"/api/v1/keys/{created['id']}")).status_code == 200
    assert_error(await ops.get("/api/v1/members", params={"limit": 1}), 401, "invalid_api_key")


async def test_a_lookup_racing_a_revocation_cannot_cache_the_key(
    make_key: KeyMaker, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = await make_key(Role.OPS)
    digest = hash_secret(secret)
    async with sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))).scalar_one()
    generation = api_keys.KEYS.generation  # a lookup starts, reads the key as active ...
    async with sessions() as session:
        await api_keys.revoke(session, key.id)
        await session.commit()
    api_keys.KEYS.put(digest, key, generation=generation)  # ... and finishes after the revocation
    assert api_keys.KEYS.get(digest) is None
    with pytest.raises(Unauthorized):
        await api_keys.authenticate_cached(sessions, secret)


@contextlib.contextmanager
def _key_lookups(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements on api_keys that the engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_keys" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_revocation_committed_elsewhere_clears_the_cache(
    app: FastAPI, make_key: KeyMaker, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Another API process revokes through its own connection; this app hears the NOTIFY and forgets."""
    secret = await make_key(Role.OPS)
    await asyncio.wait_for(app.state.key_revocations_listening.wait(), timeout=10)
    await api_keys.authenticate_cached(sessions, secret)
    assert api_keys.KEYS.get(hash_secret(secret)) is not None
    other = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await other.execute("SELECT pg_notify($1, 'revoked')", api_keys.REVOKED_CHANNEL)
    finally:
        await other.close()
    async with asyncio.timeout(10):
        while api_keys.KEYS.get(hash_secret(secret)) is not None:
            await asyncio.sleep(0.01)
