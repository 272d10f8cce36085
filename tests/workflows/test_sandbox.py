"""The worker's sandbox: the workflow modules pass through it (imported once per process, shared by every
run), which is safe only while they hold no state a run could change; and the worker takes its cache and
poller sizes from the settings."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import workflows
from core.settings import Settings, WorkerSettings
from tests.support.sandbox import journey_instance_details
from worker import SHARED_WORKFLOW_MODULES, build_worker, workflow_runner
from workflows.journey import JourneyWorkflow

MUTABLE = (list, dict, set, bytearray)


def _workflow_modules() -> list[str]:
    return ["workflows", *(m.name for m in pkgutil.walk_packages(workflows.__path__, "workflows."))]


@pytest.mark.parametrize("name", _workflow_modules())
def test_a_shared_workflow_module_holds_no_mutable_state(name: str) -> None:
    assert any(name == shared or name.startswith(shared + ".") for shared in SHARED_WORKFLOW_MODULES)
    module = importlib.import_module(name)
    mutable = [key for key, value in vars(module).items() if isinstance(value, MUTABLE) and not key.startswith("__")]
    assert mutable == [], f"{name} holds {mutable}: every run in the process would share it"


def _instance_class(mode: str) -> Any:
    instance = workflow_runner(mode).create_instance(journey_instance_details())
    return instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined]


async def test_pass_through_runs_share_the_imported_workflow_class() -> None:
    assert _instance_class("pass_through") is JourneyWorkflow
    assert _instance_class("pass_through") is _instance_class("pass_through")


async def test_strict_re_imports_the_workflow_module_for_each_run() -> None:
    first, second = _instance_class("strict"), _instance_class("strict")
    assert first is not JourneyWorkflow
    assert first is not second
    assert first.__qualname__ == JourneyWorkflow.__qualname__


async def test_worker_settings_reach_the_worker(temporal_dev: WorkflowEnvironment, sessions: Any) -> None:
    config = WorkerSettings(
        max_cached_workflows=123,
        max_concurrent_workflow_tasks=7,
        max_concurrent_activities=9,
        workflow_task_pollers=3,
        activity_task_pollers=2,
    )
    settings = Settings(worker=config)
    built = build_worker(temporal_dev.client, sessions, "tq-settings", settings).config()
    assert built["max_cached_workflows"] == 123
    assert built["max_concurrent_workflow_tasks"] == 7
    assert built["max_concurrent_activities"] == 9
    assert built["workflow_task_poller_behavior"].maximum == 3  # type: ignore[attr-defined]
    assert built["activity_task_poller_behavior"].maximum == 2  # type: ignore[attr-defined]


def test_out_of_range_worker_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="workflow_task_pollers"):
        WorkerSettings(workflow_task_pollers=1)
    with pytest.raises(ValueError, match="sandbox"):
        WorkerSettings(sandbox="none")  # type: ignore[arg-type]
