"""API key expiry (checked on every request, so a cached key stops at its expiry) and last use (noted in memory,
written in the background at most once per key per interval, never on the request)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.console.keys import expiry_text, last_used_text
from api.key_usage import write_due
from core.settings import Settings
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role, hash_secret
from tests.support.auth_apps import app_with, bearer, client_from, fresh_address
from tests.support.console import csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.statements import counting

MEMBERS = "/api/v1/members"


async def _key_expiring(sessions: async_sessionmaker[AsyncSession], expires_at: datetime) -> tuple[uuid.UUID, str]:
    """A key whose expiry is written directly, so it may already lie in the past."""
    async with sessions() as session:
        issued = await api_keys.create(session, name=f"exp-{uuid.uuid4().hex[:6]}", role=Role.OPS)
        issued.key.expires_at = expires_at
        await session.commit()
        return issued.key.id, issued.secret


async def _row(sessions: async_sessionmaker[AsyncSession], key_id: uuid.UUID | str) -> ApiKey:
    async with sessions() as session:
        return (await session.execute(select(ApiKey).where(ApiKey.id == uuid.UUID(str(key_id))))).scalar_one()


async def test_a_key_made_with_an_expiry_lists_it_and_its_last_use(admin: ApiClient) -> None:
    before = datetime.now(UTC)
    created = await admin.post("/api/v1/keys", json={"name": "temp-shop", "role": "integration", "expires_in_days": 5})
    assert created.status_code == 201, created.text
    body = created.json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(days=5) <= expires <= datetime.now(UTC) + timedelta(days=5)
    assert body["last_used_at"] is None
    at = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    second = (await admin.post("/api/v1/keys", json={"name": "t2", "role": "ops", "expires_at": at.isoformat()})).json()
    assert datetime.fromisoformat(second["expires_at"]) == at
    listed = {k["id"]: k for k in (await admin.get("/api/v1/keys")).json()}
    assert listed[body["id"]]["expires_at"] == body["expires_at"]
    assert listed[body["id"]]["last_used_at"] is None
    assert "expires_at" in listed[second["id"]]
    assert listed[second["id"]]["revoked_at"] is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"expires_at": "2020-01-01T00:00:00Z"}, "body.expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "body.expires_at"),  # no zone
        ({"expires_in_days": 0}, "body.expires_in_days"),
        ({"expires_in_days": 5, "expires_at": "2999-01-01T00:00:00Z"}, "body"),
    ],
)
async def test_a_bad_expiry_is_refused_and_makes_no_key(
    admin: ApiClient, sessions: async_sessionmaker[AsyncSession], extra: dict[str, object], field: str
) -> None:
    name = f"bad-expiry-{uuid.uuid4().hex[:6]}"
    error = assert_error(await admin.post("/api/v1/keys", json={"name": name, "role": "ops", **extra}), 422)
    assert error["details"][0]["field"] == field
    async with sessions() as session:
        assert (await session.execute(select(ApiKey).where(ApiKey.name == name))).first() is None


async def test_an_expired_key_is_refused_with_its_own_code(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, secret = await _key_expiring(sessions, datetime.now(UTC) - timedelta(minutes=1))
    response = await http.get(MEMBERS, headers=bearer(secret))
    assert_error(response, 401, "api_key_expired")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_cached_key_stops_working_at_its_expiry(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1)
    _, secret = await _key_expiring(sessions, expires)
    assert (await http.get(MEMBERS, params={"limit": 1}, headers=bearer(secret))).status_code == 200
    assert api_keys.KEYS.get(hash_secret(secret)) is not None
    while datetime.now(UTC) < expires:  # the clock crossing the expiry, not a guess at how long things take
        await asyncio.sleep(0.02)
    async with counting(engine) as sent:
        assert_error(await http.get(MEMBERS, headers=bearer(secret)), 401, "api_key_expired")
    assert api_keys.KEYS.get(hash_secret(secret)) is not None  # still cached (TTL 30 s), refused all the same
    assert not [s for s in sent.statements if "FROM api_keys" in s], sent.describe()


async def test_last_use_is_written_at_most_once_per_interval(
    http: httpx.AsyncClient, make_key: KeyMaker, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    secret = await make_key(Role.OPS)
    key_id = (await api_keys.authenticate_cached(sessions, secret)).id
    async with counting(engine) as sent:  # a use on the hot path writes nothing
        assert (await http.get(MEMBERS, params={"limit": 1}, headers=bearer(secret))).status_code == 200
    # No write of the key; a read is allowed, since a revocation elsewhere in the suite may clear the key cache
    # (through its NOTIFY) at any moment and send this request to the database for the key.
    writes = [s for s in sent.statements if "api_keys" in s and s.lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert not writes, sent.describe()
    assert (await _row(sessions, key_id)).last_used_at is None
    start = time.monotonic()
    await write_due(sessions, 60, now=start)
    first = (await _row(sessions, key_id)).last_used_at
    assert first is not None
    assert datetime.now(UTC) - first < timedelta(seconds=30)
    for _ in range(3):
        assert (await http.get(MEMBERS, params={"limit": 1}, headers=bearer(secret))).status_code == 200
    await write_due(sessions, 60, now=start + 59)  # within the minute: not written again
    assert (await _row(sessions, key_id)).last_used_at == first
    await write_due(sessions, 60, now=start + 60)
    later = (await _row(sessions, key_id)).last_used_at
    assert later is not None
    assert later > first


async def test_the_background_writer_records_use_and_a_later_time_wins(
    settings: Settings,
    engine: AsyncEngine,
    temporal_dev: WorkflowEnvironment,
    make_key: KeyMaker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    secret = await make_key(Role.OPS)
    key_id = (await api_keys.authenticate_cached(sessions, secret)).id
    future = datetime.now(UTC) + timedelta(hours=1)  # another process wrote a later use
    async with app_with(settings, engine, temporal_dev.client, key_use_write_seconds=0.2) as app:
        async with client_from(app, fresh_address()) as client:
            assert (await client.get(MEMBERS, params={"limit": 1}, headers=bearer(secret))).status_code == 200
            async with asyncio.timeout(10):
                while (await _row(sessions, key_id)).last_used_at is None:
                    await asyncio.sleep(0.05)
            async with sessions() as session:
                await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=future))
                await session.commit()
            assert (await client.get(MEMBERS, params={"limit": 1}, headers=bearer(secret))).status_code == 200
    # The app's shutdown wrote what was left; the later time stayed.
    assert (await _row(sessions, key_id)).last_used_at == future


def test_the_console_words_for_expiry_and_last_use() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    key = ApiKey(expires_at=None)
    assert expiry_text(key, now) == "never"
    key.expires_at = now + timedelta(days=5, hours=3)
    assert expiry_text(key, now) == "expires in 5 days"
    key.expires_at = now + timedelta(days=4, hours=23, minutes=59)
    assert expiry_text(key, now) == "expires in 5 days"
    key.expires_at = now + timedelta(minutes=61)
    assert expiry_text(key, now) == "expires in 1 hour"
    key.expires_at = now
    assert expiry_text(key, now) == "expired"
    assert last_used_text(None, now) == "never"
    assert last_used_text(now - timedelta(minutes=3, seconds=20), now) == "3 minutes ago"
    assert last_used_text(now - timedelta(seconds=20), now) == "just now"


async def test_the_console_key_page_makes_lists_and_revokes(
    http: httpx.AsyncClient, make_key: KeyMaker, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await sign_in(http, await make_key(Role.ADMIN))).status_code == 303
    used_id, _ = await _key_expiring(sessions, datetime.now(UTC) - timedelta(days=1))
    async with sessions() as session:
        used_at = datetime.now(UTC) - timedelta(minutes=3, seconds=5)
        await session.execute(update(ApiKey).where(ApiKey.id == used_id).values(last_used_at=used_at))
        await session.commit()
    page = await http.get("/console/keys")
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-key-id="{used_id}"') :]
    row = row[: row.index("</tr>")]
    assert ">expired<" in row
    assert "3 minutes ago" in row
    name = f"console-{uuid.uuid4().hex[:6]}"
    made = await http.post(
        "/console/keys", data={"csrf_token": csrf(page.text), "name": name, "role": "marketer", "expires_in_days": "5"}
    )
    assert made.status_code == 201
    assert 'id="secret">mf_' in made.text
    async with sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.name == name))).scalar_one()
    assert key.source == "console"
    assert key.role == "marketer"
    assert key.expires_at is not None
    assert key.personal_data is False  # a marketer key's default
    row = made.text[made.text.index(f'data-key-id="{key.id}"') :]
    assert "expires in 5 days" in row[: row.index("</tr>")]
    assert ">masked<" in row[: row.index("</tr>")]
    granted_name = f"console-{uuid.uuid4().hex[:6]}"
    form = {"csrf_token": csrf(page.text), "name": granted_name, "role": "ops", "personal_data": "yes"}
    assert (await http.post("/console/keys", data=form)).status_code == 201
    async with sessions() as session:
        granted = (await session.execute(select(ApiKey).where(ApiKey.name == granted_name))).scalar_one()
    assert granted.personal_data is True
    bad = await http.post(
        "/console/keys", data={"csrf_token": csrf(page.text), "name": "x", "role": "ops", "expires_in_days": "soon"}
    )
    assert bad.status_code == 422
    assert "whole number of days" in bad.text
    revoked = await http.post(f"/console/keys/{key.id}/revoke", data={"csrf_token": csrf(page.text)})
    assert revoked.status_code == 303
    assert (await _row(sessions, key.id)).revoked_at is not None


async def test_an_expired_key_cannot_sign_in_to_the_console(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        issued = await api_keys.create(session, name=f"exp-admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN)
        issued.key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    response = await sign_in(http, issued.secret)
    assert response.status_code == 401
    assert "That API key has expired" in response.text
