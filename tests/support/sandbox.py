"""What the worker hands a workflow runner for a new JourneyWorkflow run, built outside a worker: the sandbox
tests and bench/instances.py (which times instance creation per sandbox mode) create instances from it."""

from __future__ import annotations

from temporalio import converter, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox._runner import _fake_info  # the SDK's stand-in run, for its own checks

from workflows.journey import JourneyWorkflow


def journey_instance_details() -> WorkflowInstanceDetails:
    """A new run of the journey workflow with the SDK's stand-in run info and the default converters."""
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
