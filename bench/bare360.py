"""The ceiling for the member 360 benchmark: a bare FastAPI app on an asyncpg pool that answers the same
route with the same one statement (`services.analytics.member360.VIEW_SQL`), no auth, no middleware, no
settings. Run by bench/api.py as `uvicorn bare360:app` with BARE360_DSN set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Response

from services.analytics.member360 import VIEW_SQL

LINKS = ("http://localhost:8233/namespaces/default/workflows?query=x", "http://localhost:8233/welcome")


@asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    size = int(os.environ.get("BARE360_POOL", "16"))
    application.state.pool = await asyncpg.create_pool(os.environ["BARE360_DSN"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await application.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/members/{member_id}")
async def member_360(member_id: uuid.UUID) -> Response:
    async with app.state.pool.acquire() as connection:
        row = await connection.fetchrow(VIEW_SQL, member_id, *LINKS)
    if row is None:
        return Response(status_code=404)
    return Response(row["body"], media_type="application/json")
