"""Saved histories of every built-in journey (and of the first release's welcome skeleton) replay against
today's workflow code without non-determinism: a change that would break running journeys fails here.
Re-record after an intended, patched change with MEMBERFLOW_RECORD_HISTORIES=1 pytest tests/test_journeys.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.support.temporal import HISTORIES as SAVED_HISTORIES
from workflows import WORKFLOWS

HISTORIES = sorted(SAVED_HISTORIES.glob("*.json"))


def test_there_are_histories_for_the_built_in_journeys() -> None:
    names = {path.stem for path in HISTORIES}
    assert {
        "legacy_welcome_skeleton",
        "welcome_reminder",
        "welcome_purchase",
        "first_purchase_cross_sell",
        "tier_upgrade",
        "abandoned_cart",
        "win_back",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    raw = path.read_text()
    events = json.loads(raw)["events"]
    workflow_id = events[0]["workflowExecutionStartedEventAttributes"].get("workflowId") or path.stem
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, raw))
    assert result.replay_failure is None, result.replay_failure
