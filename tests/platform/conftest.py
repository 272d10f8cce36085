"""Fixtures of the platform tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import TemporalOutbox


@pytest_asyncio.fixture
async def rows(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[list[int]]:
    """Ids of the outbox rows a test writes; they are removed afterwards so no other test's relay sees them."""
    ids: list[int] = []
    yield ids
    async with sessions() as session:
        await session.execute(delete(TemporalOutbox).where(TemporalOutbox.id.in_(ids)))
        await session.commit()
