"""Segment fixtures: five members with known facts, tagged so a module's tests see only them."""

from __future__ import annotations

import uuid

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.segments import PEOPLE, Population
from tests.support.segments import insert_members as _insert


@pytest_asyncio.fixture(scope="module")
async def people(sessions: async_sessionmaker[AsyncSession]) -> Population:
    tag = f"segtest_{uuid.uuid4().hex[:10]}"
    async with sessions() as session:
        ids = await _insert(session, PEOPLE, tag=tag)
        await session.commit()
    return Population(tag, ids)
