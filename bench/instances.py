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

from rootworker import workflow_runner
from temporalio import converter, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info  # the SDK's stand-in run, for its own checks

from workflows.journey import JourneyWorkflow


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


def _details() -> WorkflowInstanceDetails:
    """What the worker hands a runner for a new run, with the SDK's stand-in run info."""
    return WorkflowInstanceDetails(
        payload_converter_factory=converter.DataConverter.default._new_payload_converter,
        failure_converter_class=converter.DataConverter.default.failure_converter_class,
        interceptor_classes=[],
        defn=workflow._Definition.must_from_class(JourneyWorkflow),
        info=_fake_info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


def _per_instance_us(runner: WorkflowRunner, count: int) -> float:
    details = _details()
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
