"""Apps with their own authentication settings (the session's apps have no failure limit, see tests/conftest.py),
and clients that come from an address of their own, so a test's failures block no other test."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings


def fresh_address() -> str:
    """A documentation-range IPv6 address no other test uses."""
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8::")) + uuid.uuid4().int % 2**64))


@asynccontextmanager
async def app_with(settings: Settings, engine: AsyncEngine, temporal: Client, **api: Any) -> AsyncIterator[FastAPI]:
    """An app on the session's database whose `settings.api` has `api` changed, its lifespan entered."""
    changed = settings.model_copy(update={"api": settings.api.model_copy(update=api)})
    app = create_app(changed, engine=engine, temporal_client=temporal)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
