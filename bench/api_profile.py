"""What py-spy saw in the API processes during a phase of bench/ingest.py: the share of their busy samples in
the request handler, the SQL run through SQLAlchemy, FastAPI around the handler, the after-response delivery
to Temporal, and the event loop itself (collapsed stacks as `py-spy record --format raw` writes them)."""

from __future__ import annotations

from pathlib import Path

PARTS = (
    "request handler (services, statements built)",
    "SQLAlchemy execute and flush (greenlet side)",
    "Temporal delivery after the response",
    "FastAPI, Starlette, middleware, JSON",
    "event loop callbacks, HTTP parsing, driver I/O",
)
# SQLAlchemy's async layer runs the ORM in a greenlet, whose stacks py-spy shows from their own root.
_GREENLET_ROOTS = ("Session.", "Connection.", "AsyncAdapt_", "Engine.")


def _part(stack: str) -> str | None:
    """The part a sample belongs to; None for helper threads (uvicorn's ping thread) and for samples whose
    innermost Python frame is the event loop's run call: the loop waiting in epoll, or uvloop's C code. py-spy
    does not tell those apart here (its idle detection kept even a thread blocked in recv), so they are left
    out rather than counted as busy."""
    frames = stack.split(";")
    root = frames[0].strip()
    if not root or root.startswith("Thread._bootstrap") or frames[-1].startswith("Runner.run "):
        return None
    if root.startswith(_GREENLET_ROOTS):
        return PARTS[1]
    if "OutboxDelivery." in stack or "deliver_outbox" in stack:
        return PARTS[2]
    if "run_endpoint_function" in stack:
        return PARTS[0]
    if "RequestResponseCycle.run_asgi" in stack:
        return PARTS[3]
    return PARTS[4]


def split(files: list[Path]) -> dict[str, float]:
    """Share (0-1) of the busy samples of all `files` in each of PARTS; empty when nothing was recorded."""
    counts = dict.fromkeys(PARTS, 0)
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            part = _part(stack) if count.isdigit() else None
            if part is not None:
                counts[part] += int(count)
    total = sum(counts.values())
    return {part: n / total for part, n in counts.items()} if total else {}
