"""Count what a piece of code sends to PostgreSQL: its statements and its transactions (each one a BEGIN and a
COMMIT or ROLLBACK round trip more), so tests can pin a hot path's cost.

Statements come from two places: SQLAlchemy's execute (its `before_cursor_execute` event), and calls made on
the asyncpg connection directly, as the ledger's posting functions are (asyncpg's query logger, added to each
connection as it is checked out of the pool). Transaction control that asyncpg logs is counted as transactions,
not statements; asyncpg's type introspection is left out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
# asyncpg's type introspection, once per connection for each type it has not seen (arrays of a type, enums):
# a connection's warm-up, not a statement of the code being measured (SQLAlchemy's event does not see it either).
_INTROSPECTION = ("SELECT current_setting('jit')", "WITH RECURSIVE typeinfo_tree", "SELECT set_config('jit'")


@dataclass
class Sent:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    def where(self, *starts: str) -> list[str]:
        """The statements that begin with one of `starts` (e.g. "UPDATE temporal_outbox")."""
        return [s for s in self.statements if s.lstrip().startswith(starts)]

    def without(self, *starts: str) -> list[str]:
        return [s for s in self.statements if not s.lstrip().startswith(starts)]

    def describe(self) -> str:
        return "\n".join(" ".join(s.split())[:160] for s in self.statements)


@asynccontextmanager
async def counting(engine: AsyncEngine) -> AsyncIterator[Sent]:
    """Everything the engine's connections send inside the block, from any session or connection of it."""
    sent = Sent()
    logged: list[Any] = []  # the asyncpg connections given the query logger

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.statements.append(statement)

    def on_begin(_conn: Any) -> None:
        sent.transactions += 1

    def on_driver_query(record: Any) -> None:
        # SQLAlchemy's own statements run as prepared statements, which asyncpg does not log: no double count.
        query = " ".join(record.query.split())
        if not query.upper().startswith(_CONTROL) and not query.startswith(_INTROSPECTION):
            sent.statements.append(record.query)

    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(on_driver_query)
        logged.append(driver)

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    event.listen(engine.sync_engine, "begin", on_begin)
    event.listen(engine.sync_engine.pool, "checkout", on_checkout)
    try:
        yield sent
        await asyncio.sleep(0)  # asyncpg hands its log records to the loop with call_soon
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)
        event.remove(engine.sync_engine, "begin", on_begin)
        event.remove(engine.sync_engine.pool, "checkout", on_checkout)
        for driver in logged:
            driver.remove_query_logger(on_driver_query)
