"""Typed signals: one request (`WorkflowSignal`) per signal, built by a factory per workflow and sent through
the outbox (`outbox.enqueue_signal`), so no caller writes a signal name, an id or a payload dict by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from workflows.contracts.models import MemberEventSignal
from workflows.contracts.names import (
    CANCEL_SIGNAL,
    MEMBER_EVENT_SIGNAL,
    PAUSE_SIGNAL,
    RESUME_SIGNAL,
    Id,
    campaign_workflow_id,
    journey_workflow_id,
)


class CampaignCancelSignal(BaseModel):
    """What a cancel asks for; the workflow reads the rest from the campaign's row."""

    cancel_journeys: bool = False


@dataclass(frozen=True)
class WorkflowSignal:
    workflow_id: str
    name: str
    payload: BaseModel | None = None

    def payload_json(self) -> dict[str, Any]:
        """The payload as JSON, as the outbox stores it (an empty object for a signal that carries nothing)."""
        return {} if self.payload is None else self.payload.model_dump(mode="json")


def member_event_signal(kind: str, member_id: Id, event: MemberEventSignal) -> WorkflowSignal:
    """An event for the member's journey of this kind (a journey not running ignores it)."""
    return WorkflowSignal(journey_workflow_id(kind, member_id), MEMBER_EVENT_SIGNAL, event)


def campaign_signal(
    campaign_id: Id, action: Literal["pause", "resume", "cancel"], *, cancel_journeys: bool = False
) -> WorkflowSignal:
    if action == "cancel":
        return WorkflowSignal(
            campaign_workflow_id(campaign_id), CANCEL_SIGNAL, CampaignCancelSignal(cancel_journeys=cancel_journeys)
        )
    return WorkflowSignal(campaign_workflow_id(campaign_id), PAUSE_SIGNAL if action == "pause" else RESUME_SIGNAL)
