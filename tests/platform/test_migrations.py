"""The migrations produce exactly the schema the models describe, and can be rolled back and re-applied."""

from __future__ import annotations

import asyncio
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.migrate import alembic_config, upgrade
from devstack.embedded import EmbeddedPostgres
from models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_downgrade_to_base_and_upgrade_again(postgres: EmbeddedPostgres) -> None:
    name = f"mig_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(name)
    url = postgres.url(name)
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    await asyncio.to_thread(upgrade, url)
    scratch = create_async_engine(url)
    try:
        async with scratch.connect() as connection:
            codes = (await connection.execute(text("SELECT code FROM ledger_accounts ORDER BY code"))).scalars().all()
    finally:
        await scratch.dispose()
    assert codes == ["system:adjustments", "system:expired", "system:issued", "system:redeemed"]


async def test_member_fields_migration_upgrades_a_database_with_members(postgres: EmbeddedPostgres) -> None:
    """0010 adds the field definitions beside members who already hold tags and attributes, and keeps them."""
    name = f"mig_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(name)
    url = postgres.url(name)
    await asyncio.to_thread(upgrade, url, "0009")
    scratch = create_async_engine(url)
    try:
        async with scratch.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO members (id, external_id, timezone, locale, tier, tags, attributes, consent_email,"
                    " consent_sms, lifetime_spend, order_count)"
                    " VALUES (:id, 'before-0010', 'UTC', 'en', 'member', '{vip}', '{\"city\": \"Shanghai\"}',"
                    " false, false, 0, 0)"
                ),
                {"id": uuid.uuid4()},
            )
        await asyncio.to_thread(upgrade, url)
        async with scratch.connect() as connection:
            kept = (
                await connection.execute(text("SELECT tags, attributes FROM members WHERE external_id = 'before-0010'"))
            ).one()
            defined = (await connection.execute(text("SELECT count(*) FROM member_fields"))).scalar_one()
    finally:
        await scratch.dispose()
    assert (kept.tags, kept.attributes, defined) == (["vip"], {"city": "Shanghai"}, 0)
