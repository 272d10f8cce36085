"""Helpers shared by the console's server-side and browser tests: signing in, and reading a page's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def console_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar (one browser, one person)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as client:
        yield client


async def login_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    found = _LOGIN_TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    token = await login_token(client)
    return await client.post("/console/login", data={"api_key": secret, "login_token": token, "next": ""})


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
