"""Typed workflow starts: one request (`WorkflowStart`) per start, built by a factory per workflow, so no
caller writes a workflow name, an id, an input dict or a search attribute by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeValue,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)

from workflows.contracts.models import (
    ApprovalInput,
    CampaignInput,
    DailyScanInput,
    JourneyInput,
    MaintenanceInput,
    RuleMessageInput,
    RuleScanWorkflowInput,
)
from workflows.contracts.names import (
    CAMPAIGN_ID,
    CAMPAIGN_WORKFLOW,
    JOURNEY_KIND,
    JOURNEY_SCAN_ID,
    JOURNEY_SCAN_WORKFLOW,
    JOURNEY_STEP,
    JOURNEY_WORKFLOW,
    LEDGER_MAINTENANCE_ID,
    LEDGER_MAINTENANCE_WORKFLOW,
    MEMBER_ID,
    REDEMPTION_APPROVAL_WORKFLOW,
    RULE_MESSAGE_WORKFLOW,
    RULE_SCAN_ID,
    RULE_SCAN_WORKFLOW,
    START_STEP,
    Id,
    campaign_member_workflow_id,
    campaign_workflow_id,
    journey_workflow_id,
    redemption_workflow_id,
    rule_message_workflow_id,
)

if TYPE_CHECKING:
    from temporalio.client import Client, ScheduleActionStartWorkflow, WorkflowHandle


@dataclass(frozen=True)
class WorkflowStart:
    """Everything a start needs, built by the factories below: through the outbox (`outbox.enqueue_start`),
    a client (`start`), or a Schedule (`schedule_action`)."""

    workflow: str
    id: str
    input: BaseModel
    task_queue: str
    search_attributes: TypedSearchAttributes = TypedSearchAttributes.empty
    # REJECT_DUPLICATE: this id never runs again, even after its run ended (a journey without re-entry).
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE

    @property
    def once(self) -> bool:
        return self.id_reuse_policy == WorkflowIDReusePolicy.REJECT_DUPLICATE

    def payload(self) -> dict[str, Any]:
        """The input as JSON, as the outbox stores it."""
        return self.input.model_dump(mode="json")

    def search_attribute_values(self) -> dict[str, str]:
        """The search attributes by name, as the outbox stores them (all of ours are Keyword)."""
        return {pair.key.name: str(pair.value) for pair in self.search_attributes}

    async def start(self, client: Client, *, result_type: type | None = None) -> WorkflowHandle[Any, Any]:
        """Start it now; `result_type` (the output model) lets `handle.result()` return the model."""
        return await client.start_workflow(
            self.workflow,
            self.input,
            id=self.id,
            task_queue=self.task_queue,
            search_attributes=self.search_attributes,
            id_reuse_policy=self.id_reuse_policy,
            result_type=result_type,
        )

    def schedule_action(self) -> ScheduleActionStartWorkflow:
        # Imported here: the client is no business of the services and workflows that import this module.
        from temporalio.client import ScheduleActionStartWorkflow

        return ScheduleActionStartWorkflow(
            self.workflow,
            self.input,
            id=self.id,
            task_queue=self.task_queue,
            typed_search_attributes=self.search_attributes,
        )


def search_attributes(*pairs: tuple[SearchAttributeKey[Any], SearchAttributeValue | None]) -> TypedSearchAttributes:
    """Typed search attributes from (key, value) pairs; a None value is left out."""
    return TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs if value is not None])


def _reuse(once: bool) -> WorkflowIDReusePolicy:
    return WorkflowIDReusePolicy.REJECT_DUPLICATE if once else WorkflowIDReusePolicy.ALLOW_DUPLICATE


def journey_start(inp: JourneyInput, *, task_queue: str, once: bool) -> WorkflowStart:
    """A member's journey; in a campaign (`inp.campaign_id`) under the campaign's id for the member.
    `once`: the journey has no re-entry (the id never runs twice)."""
    run_id = (
        journey_workflow_id(inp.kind, inp.member_id)
        if inp.campaign_id is None
        else campaign_member_workflow_id(inp.campaign_id, inp.member_id)
    )
    return WorkflowStart(
        workflow=JOURNEY_WORKFLOW,
        id=run_id,
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes(
            (MEMBER_ID, inp.member_id),
            (JOURNEY_KIND, inp.kind),
            (CAMPAIGN_ID, inp.campaign_id),
            (JOURNEY_STEP, START_STEP),
        ),
        id_reuse_policy=_reuse(once),
    )


def campaign_start(inp: CampaignInput, *, task_queue: str) -> WorkflowStart:
    """A campaign run (a re-run reuses the id once the previous run has closed)."""
    return WorkflowStart(
        workflow=CAMPAIGN_WORKFLOW,
        id=campaign_workflow_id(inp.campaign_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((CAMPAIGN_ID, inp.campaign_id)),
    )


def redemption_approval_start(inp: ApprovalInput, *, member_id: Id, task_queue: str) -> WorkflowStart:
    """A high-value redemption's approval: once per redemption."""
    return WorkflowStart(
        workflow=REDEMPTION_APPROVAL_WORKFLOW,
        id=redemption_workflow_id(inp.redemption_id),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes(
            (MEMBER_ID, str(member_id)), (JOURNEY_KIND, "redemption_approval"), (JOURNEY_STEP, START_STEP)
        ),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def rule_message_start(inp: RuleMessageInput, *, event_key: str, task_queue: str) -> WorkflowStart:
    """The messages of one rule firing: once, even after the run ended."""
    return WorkflowStart(
        workflow=RULE_MESSAGE_WORKFLOW,
        id=rule_message_workflow_id(inp.rule_id, inp.version, event_key),
        input=inp,
        task_queue=task_queue,
        search_attributes=search_attributes((MEMBER_ID, inp.member_id)),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def journey_scan_start(*, task_queue: str) -> WorkflowStart:
    return WorkflowStart(JOURNEY_SCAN_WORKFLOW, JOURNEY_SCAN_ID, DailyScanInput(), task_queue)


def rule_scan_start(*, task_queue: str) -> WorkflowStart:
    return WorkflowStart(RULE_SCAN_WORKFLOW, RULE_SCAN_ID, RuleScanWorkflowInput(), task_queue)


def ledger_maintenance_start(*, task_queue: str) -> WorkflowStart:
    return WorkflowStart(LEDGER_MAINTENANCE_WORKFLOW, LEDGER_MAINTENANCE_ID, MaintenanceInput(), task_queue)
