"""The personal-data inventory matches the live schema, column for column, and export and erasure cover every
personal column it declares: a new column without a decision, or a decision about a column that is gone,
fails here."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models
from services.members.personal_data import INVENTORY, Treatment, member_tables, personal_columns
from services.privacy.erasure import _statements
from services.privacy.export import exported_columns


async def _live_columns(sessions: async_sessionmaker[AsyncSession]) -> dict[str, set[str]]:
    """Every column of every table in the migrated test database (Alembic's own table aside)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name <> 'alembic_version'"
            )
        )
        live: dict[str, set[str]] = {}
        for table, column in rows:
            live.setdefault(table, set()).add(column)
        return live


def _declared() -> dict[str, set[str]]:
    return {name: table.columns for name, table in INVENTORY.items()}


def _difference(left: dict[str, set[str]], right: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{table}.{column}" for table, columns in left.items() for column in columns - right.get(table, set())
    )


async def test_every_column_of_the_migrated_schema_is_classified(sessions: async_sessionmaker[AsyncSession]) -> None:
    live = await _live_columns(sessions)
    assert _difference(live, _declared()) == [], "columns with no decision in services/members/personal_data.py"
    assert _difference(_declared(), live) == [], "the inventory names columns the schema no longer has"


def test_every_column_of_the_models_is_classified() -> None:
    """The models agree too, so a model change is caught before its migration is written."""
    declared = {t.name: {c.name for c in t.columns} for t in models.Base.metadata.sorted_tables}
    assert _difference(declared, _declared()) == []
    assert _difference(_declared(), declared) == []


def test_no_column_is_both_personal_and_not() -> None:
    for name, table in INVENTORY.items():
        groups = [set(table.personal), set(table.explained), set(table.plain)]
        assert sum(len(group) for group in groups) == len(table.columns), name


def test_free_text_and_json_columns_that_are_not_personal_say_why() -> None:
    free = (models.Base.metadata.tables[name].columns for name in INVENTORY)
    needing = {
        f"{column.table.name}.{column.name}"
        for columns in free
        for column in columns
        if type(column.type).__name__ in {"Text", "JSONB", "ARRAY"} and column.name not in {"id"}
    }
    explained = {
        f"{name}.{column}" for name, table in INVENTORY.items() for column in (*table.personal, *table.explained)
    }
    assert sorted(needing - explained) == []


def test_export_holds_every_personal_column() -> None:
    exported = exported_columns()
    missing = [f"{t}.{c}" for t, c, _ in personal_columns() if c not in exported.get(t, set())]
    assert missing == []


def test_erasure_treats_every_personal_column() -> None:
    """Every personal column is in the SQL erasure runs for its table, or cut out record by record."""
    tables = member_tables()
    for name, column, decision in personal_columns():
        if decision.treatment == Treatment.RECORDS:
            assert name == "import_chunks"
            continue
        sql = " ".join(_statements(name, tables[name]))
        assert sql.startswith("DELETE") or f"{column} = " in sql, f"{name}.{column}"
