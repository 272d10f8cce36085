"""Saved histories of every built-in journey (and of the first release's welcome skeleton) replay against
today's workflow code without non-determinism: a change that would break running journeys fails here.
Re-record after an intended, patched change with
MEMBERFLOW_RECORD_HISTORIES=1 pytest tests/journeys/test_journeys.py, after copying the histories it rewrites to
new names (as `*_pre_lean.json` keep the runs from before journey-lean-v1)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services import rules
from services.journeys.definition import Definition, stored
from tests.support.temporal import HISTORIES as SAVED_HISTORIES
from worker import workflow_runner
from workflows import contracts
from workflows.registry import WORKFLOWS

HISTORIES = sorted(SAVED_HISTORIES.glob("*.json"))


def test_there_are_histories_for_the_built_in_journeys_and_the_import() -> None:
    names = {path.stem for path in HISTORIES}
    assert {
        "bulk_import",
        "legacy_welcome_skeleton",
        "welcome_reminder",
        "welcome_purchase",
        "welcome_order_at_once",
        "first_purchase_cross_sell",
        "tier_upgrade",
        "abandoned_cart",
        "win_back",
        "service_ticket",
        "plan_term",
    } <= names
    # Runs started before journey-lean-v1 (a regular load activity, a record per step) keep replaying.
    assert {f"{name}_pre_lean" for name in ("welcome_reminder", "welcome_purchase", "win_back")} <= names


def test_the_contract_names_every_registered_workflow_and_each_answers_the_status_query() -> None:
    definitions = [workflow._Definition.must_from_class(cls) for cls in WORKFLOWS]
    assert {d.name for d in definitions} == contracts.WORKFLOW_NAMES
    assert all(contracts.STATUS_QUERY in d.queries for d in definitions)
    # The names in saved histories (and in running schedules) are the contract's.
    stored = {
        json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
        for path in HISTORIES
    }
    assert stored <= contracts.WORKFLOW_NAMES


@pytest.mark.parametrize("sandbox", ["pass_through", "strict"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path, sandbox: str) -> None:
    """In the worker's sandbox (pass_through), and in the strict one, whose checks then cover our workflow
    code along every saved path (a datetime.now() there fails this test)."""
    raw = path.read_text()
    events = json.loads(raw)["events"]
    workflow_id = events[0]["workflowExecutionStartedEventAttributes"].get("workflowId") or path.stem
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=workflow_runner(sandbox)
    )
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, raw))
    assert result.replay_failure is None, result.replay_failure


def _payload_values(node: Any) -> Iterator[Any]:
    """Every JSON payload anywhere in a history (inputs, results, signals), decoded."""
    if isinstance(node, dict):
        encoding = base64.b64decode(node.get("metadata", {}).get("encoding", "")).decode(errors="replace")
        if encoding == "json/plain" and "data" in node:
            yield json.loads(base64.b64decode(node["data"]))
            return
        for value in node.values():
            yield from _payload_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payload_values(value)


def _definitions(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """("journey" | "rule", definition) for each definition JSON inside a payload, however deep."""
    if isinstance(node, dict):
        if isinstance(node.get("steps"), list) and "kind" in node and "name" in node:
            yield "journey", node
        elif isinstance(node.get("actions"), list) and "trigger" in node:
            yield "rule", node
        else:
            for value in node.values():
                yield from _definitions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _definitions(value)


def test_definitions_in_saved_histories_load_and_dump_back_unchanged() -> None:
    """The journey workflow loads its definition as stored (the load_definition result in each history): the
    step models read every one, and write it back key for key."""
    found: dict[str, list[str]] = {"journey": [], "rule": []}
    for path in HISTORIES:
        for payload in _payload_values(json.loads(path.read_text())["events"]):
            for kind, raw in _definitions(payload):
                found[kind].append(path.stem)
                if kind == "journey":
                    assert stored(Definition.model_validate(raw)) == raw, path.stem
                else:
                    assert rules.stored(rules.parse(raw)) == raw, path.stem
    assert {
        "welcome_reminder",
        "welcome_purchase",
        "first_purchase_cross_sell",
        "tier_upgrade",
        "abandoned_cart",
        "win_back",
    } <= set(found["journey"])
