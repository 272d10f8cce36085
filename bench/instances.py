"""What creating one JourneyWorkflow instance costs the worker in each sandbox mode: the work it does for every
new run and for every run brought back after eviction (the SDK's own `create_instance`, timed in process).

strict re-imports the workflow modules per instance, so it is timed twice: with bytecode files to read, and
with none (PYTHONDONTWRITEBYTECODE=1 and an empty cache, as on the machine the issue profiled: there the
re-import compiled source every time)."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rootworker import workflow_runner
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner

# The instance the worker would create comes from the test suite's helper (tests/support/sandbox.py), which the
# sandbox tests use too; the repository root is on the path after bench/, so our own modules still win.
sys.path.append(str(Path(__file__).resolve().parent.parent))
from tests.support.sandbox import journey_instance_details  # noqa: E402


@contextmanager
def _bytecode(*, readable: bool) -> Iterator[None]:
    """Point the bytecode cache at an empty directory; written (and so read after the first import) only if
    `readable`."""
    saved = sys.pycache_prefix, sys.dont_write_bytecode
    with tempfile.TemporaryDirectory(prefix="mf-pyc-") as empty:
        sys.pycache_prefix, sys.dont_write_bytecode = empty, not readable
        try:
            yield
        finally:
            sys.pycache_prefix, sys.dont_write_bytecode = saved


def _per_instance_us(runner: WorkflowRunner, count: int) -> float:
    details = journey_instance_details()
    runner.create_instance(details)  # warm: the first one may import for the process
    began = time.perf_counter()
    for _ in range(count):
        runner.create_instance(details)
    return (time.perf_counter() - began) / count * 1e6


async def instance_costs(count: int = 500) -> dict[str, float]:
    """Microseconds per new instance. Needs a running event loop (the SDK's instance binds to it)."""
    costs: dict[str, float] = {}
    with _bytecode(readable=False):
        costs["strict, no .pyc"] = _per_instance_us(workflow_runner("strict"), count)
    with _bytecode(readable=True):
        costs["strict, .pyc"] = _per_instance_us(workflow_runner("strict"), count)
    costs["pass_through"] = _per_instance_us(workflow_runner("pass_through"), count)
    costs["unsandboxed (ceiling)"] = _per_instance_us(UnsandboxedWorkflowRunner(), count)
    return costs
