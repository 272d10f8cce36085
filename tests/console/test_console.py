"""The console over HTTP (no browser): sign-in and sessions, CSRF on every form, and role gating."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from api.console import auth
from core.settings import Settings
from models import ApiKey
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, login_token, sign_in
from tests.support.helpers import KeyMaker


async def test_sign_in_and_out(app: FastAPI, make_key: KeyMaker) -> None:
    async with console_client(app) as client:
        first = await client.get("/console/members?q=x")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/login?next=/console/members%3Fq%3Dx"
        bad = await sign_in(client, "mf_not-a-real-key")
        assert bad.status_code == 401
        assert "not valid or was revoked" in bad.text
        assert auth.COOKIE not in client.cookies
        signed = await sign_in(client, await make_key(Role.OPS))
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/console" in cookie
        page = await client.get("/console")
        assert page.status_code == 200
        assert "<h1>Dashboard</h1>" in page.text
        # Signing out needs the session's CSRF token like every other form.
        assert (await client.post("/console/logout", data={"csrf_token": "forged"})).status_code == 403
        out = await client.post("/console/logout", data={"csrf_token": csrf(page.text)})
        assert out.status_code == 303
        assert (await client.get("/console")).status_code == 303
        # The flash after signing out is signed: a crafted link cannot make the console say something else.
        signed_out = await client.get(out.headers["location"])
        assert '<p class="flash" role="status">Signed out.</p>' in signed_out.text
        forged = await client.get("/console/login?flash=Your+key+expired%2C+paste+it+at+evil.example&fs=x")
        assert "evil.example" not in forged.text
        assert forged.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in forged.headers["content-security-policy"]


async def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(app: FastAPI, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        token = await login_token(client)
        response = await client.post(
            "/console/login", data={"api_key": secret, "login_token": token, "next": "/console/journeys"}
        )
        assert response.headers["location"] == "/console/journeys"
    async with console_client(app) as client:
        token = await login_token(client)
        response = await client.post(
            "/console/login", data={"api_key": secret, "login_token": token, "next": "//evil.example/console"}
        )
        assert response.headers["location"] == "/console"


async def test_the_login_form_needs_its_own_token(app: FastAPI, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        await login_token(client)
        forged = await client.post("/console/login", data={"api_key": secret, "login_token": "guess"})
        assert forged.status_code == 403
        assert auth.COOKIE not in client.cookies
        wrong_type = await client.post("/console/login", json={"api_key": secret})
        assert wrong_type.status_code == 400


async def test_a_tampered_or_expired_cookie_is_no_session(app: FastAPI, settings: Settings, make_key: KeyMaker) -> None:
    secret = await make_key(Role.ADMIN)
    async with console_client(app) as client:
        assert (await sign_in(client, secret)).status_code == 303
        good = client.cookies[auth.COOKIE]
        assert (await client.get("/console")).status_code == 200
        payload, _, signature = good.rpartition(".")
        key_id = payload.split(".")[1]
        other = uuid.uuid4().hex
        client.cookies.set(auth.COOKIE, good.replace(key_id, other), domain="memberflow.test", path="/console")
        assert (await client.get("/console")).status_code == 303
    assert auth.read_cookie(settings, good) is not None
    assert auth.read_cookie(settings, good[:-2] + ("AA" if not good.endswith("AA") else "BB")) is None
    issued = auth.issue_cookie(settings, uuid.uuid4(), now=1_000_000.0)
    assert auth.read_cookie(settings, issued, now=1_000_000.0 + auth.SESSION_SECONDS - 1) is not None
    assert auth.read_cookie(settings, issued, now=1_000_000.0 + auth.SESSION_SECONDS + 1) is None
    assert signature  # the cookie is signed, not a bare id


async def test_revoking_the_key_ends_its_console_session(app: FastAPI, make_key: KeyMaker, sessions: Sessions) -> None:
    secret = await make_key(Role.MARKETER)
    async with console_client(app) as client:
        assert (await sign_in(client, secret)).status_code == 303
        assert (await client.get("/console/journeys")).status_code == 200
        async with sessions() as session:
            key = (
                await session.execute(select(ApiKey).where(ApiKey.key_hash == api_keys.hash_secret(secret)))
            ).scalar_one()
            await api_keys.revoke(session, key.id)
            await session.commit()
        assert (await client.get("/console/journeys")).status_code == 303


async def test_each_role_sees_its_own_pages(app: FastAPI, make_key: KeyMaker) -> None:
    expected = {
        Role.MARKETER: (
            {
                "/console",
                "/console/members",
                "/console/campaigns",
                "/console/journeys",
                "/console/rules",
                "/console/messages",
            },
            "/console",
        ),
        Role.APPROVER: ({"/console/inbox", "/console/members"}, "/console/inbox"),
        Role.OPS: ({"/console", "/console/members", "/console/messages", "/console/tasks"}, "/console"),
    }
    pages = [
        "/console",
        "/console/members",
        "/console/inbox",
        "/console/campaigns",
        "/console/journeys",
        "/console/rules",
        "/console/messages",
        "/console/tasks",
        "/console/fields",
    ]
    for role, (allowed, home) in expected.items():
        async with console_client(app) as client:
            signed = await sign_in(client, await make_key(role))
            assert signed.headers["location"] == home
            for path in pages:
                response = await client.get(path)
                if path in allowed:
                    assert response.status_code == 200, (role, path)
                else:
                    assert response.status_code == 403, (role, path)
                    assert "Not allowed" in response.text
                    assert f"({role.value})" in response.text
            nav = (await client.get(home)).text.split("<main>")[0]
            assert ('href="/console/inbox"' in nav) == (role is Role.APPROVER)
    async with console_client(app) as client:
        refused = await sign_in(client, await make_key(Role.INTEGRATION))
        assert refused.status_code == 403
        assert "cannot use the console" in refused.text
