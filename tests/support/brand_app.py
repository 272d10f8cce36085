"""The app on a scratch brand's database (tests/support/brand.py), for the KPI suites that call the API on
figures they seeded, and an API key of a role in that database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from services.platform import api_keys
from services.platform.api_keys import Role


@asynccontextmanager
async def app_on(database_url: str, settings: Settings, temporal: Client) -> AsyncIterator[FastAPI]:
    """The app, started, on the scratch database at `database_url` with the suite's other settings."""
    app = create_app(settings.model_copy(update={"database_url": database_url}), temporal_client=temporal)
    async with app.router.lifespan_context(app):
        yield app


async def key_for(app: FastAPI, role: Role, label: str) -> str:
    """A fresh key of `role` in the app's database, named after the suite (`label`) so its rows are told apart."""
    async with app.state.sessions() as session:
        secret = (await api_keys.create(session, name=f"{label}-{role.value}-{uuid.uuid4().hex[:6]}", role=role)).secret
        await session.commit()
    return secret
