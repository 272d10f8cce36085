"""Bulk import activities: list an import's chunks, run one chunk, finish. Each commits once; a chunk run
again after a crash finds itself done and writes nothing (services.imports.run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services import imports
from workflows.contracts import ChunkList, ChunkOutcome, ChunkRef, FinishOutcome, ImportRef


class ImportActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="imports.list_chunks")
    async def list_chunks(self, ref: ImportRef) -> ChunkList:
        async with self._sessions() as session:
            return ChunkList(chunk_ids=await imports.chunk_ids(session, ref.import_id))

    @activity.defn(name="imports.run_chunk")
    async def run_chunk(self, ref: ChunkRef) -> ChunkOutcome:
        async with self._sessions() as session:
            result = await imports.run_chunk(session, ref.chunk_id)
            await session.commit()
        return ChunkOutcome(imported=result.imported, skipped=result.skipped, failed=result.failed)

    @activity.defn(name="imports.finish")
    async def finish(self, ref: ImportRef) -> FinishOutcome:
        async with self._sessions() as session:
            expired = await imports.finish(session, ref.import_id)
            await session.commit()
        return FinishOutcome(lots_expired=expired)

    def all(self) -> list[Callable[..., Any]]:
        return [self.list_chunks, self.run_chunk, self.finish]
