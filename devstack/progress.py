"""Progress of long work on a terminal: one line per phase with counts and rate."""

from __future__ import annotations

import asyncio
import time
from typing import TextIO


class Progress:
    """One line per phase with counts and rate: rewritten in place on a terminal every second or so, printed
    as plain lines every few seconds otherwise."""

    def __init__(self, out: TextIO, *, interval: float | None = None) -> None:
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (1.0 if self.tty else 5.0)
        self.phase = ""
        self.total = 0
        self.done = 0
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        extra = "  ".join(f"{name} {value:,}" for name, value in self.counts.items())
        return (
            f"{self.phase:<10} {self.done:>7,}/{self.total:,}  {extra}  {self.done / elapsed:,.0f}/s  {elapsed:,.0f}s"
        ).rstrip()

    def _show(self, final: bool = False) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K" + self.line() + ("\n" if final else ""))
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._show()

    def start(self, phase: str, total: int) -> None:
        self.phase, self.total, self.done, self.counts = phase, total, 0, {}
        self.started = time.monotonic()
        self._task = asyncio.create_task(self._tick())

    def finish(self) -> float:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._show(final=True)
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
