"""One async engine and session factory per process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.settings import Settings


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        settings.require_database_url(),
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=5,
        pool_pre_ping=settings.database_pre_ping,
        pool_recycle=1800,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, without transactions: each statement commits by itself. For work that is a single
    atomic statement (a stand-alone ledger posting), this saves the BEGIN and COMMIT round trips."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
