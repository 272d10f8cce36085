"""Count what a piece of code sends to PostgreSQL: its statements (as SQLAlchemy executes them) and its
transactions (each one a BEGIN and a COMMIT or ROLLBACK round trip more), so tests can pin a hot path's cost."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Sent:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    def where(self, *starts: str) -> list[str]:
        """The statements that begin with one of `starts` (e.g. "UPDATE temporal_outbox")."""
        return [s for s in self.statements if s.lstrip().startswith(starts)]

    def without(self, *starts: str) -> list[str]:
        return [s for s in self.statements if not s.lstrip().startswith(starts)]

    @property
    def round_trips(self) -> int:
        return len(self.statements) + 2 * self.transactions

    def describe(self) -> str:
        return "\n".join(" ".join(s.split())[:160] for s in self.statements)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Sent]:
    """Everything the engine sends inside the block, from any session or connection of it."""
    sent = Sent()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.statements.append(statement)

    def on_begin(_conn: Any) -> None:
        sent.transactions += 1

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    event.listen(engine.sync_engine, "begin", on_begin)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)
        event.remove(engine.sync_engine, "begin", on_begin)
