"""Members' fixtures: custom member fields are global to the brand, so each test's fields are removed after it,
and a required field one test defines never reaches another test's sign-ups."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import MemberField


@pytest_asyncio.fixture(autouse=True)
async def _no_fields_left_behind(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    yield
    async with sessions() as session:
        await session.execute(delete(MemberField))
        await session.commit()
