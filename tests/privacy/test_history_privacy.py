"""Workflow histories hold ids, never personal data: the saved histories (tests/histories) and fresh ones of
every workflow a member's life runs (journeys, a campaign, a redemption approval) are searched, payloads
decoded, for the member's name, email and phone, and none is found. Fresh ones run on the dev server with the
real workers, for a member with a distinctive name, email and phone created through the API."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support.campaigns import Sessions, add_journey, add_segment, eventually, running_workers
from tests.support.helpers import ApiClient, create_member, order_body
from tests.support.loyalty import create_reward
from tests.support.temporal import HISTORIES
from workflows import contracts


def _texts(node: Any) -> Iterator[str]:
    """Every string in a history's JSON, with each payload's base64 `data` decoded as well."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                try:
                    yield base64.b64decode(value).decode("utf-8", "replace")
                except ValueError:
                    pass
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)
    elif isinstance(node, str):
        yield node


def _mentions(history: dict[str, Any], needles: list[str]) -> list[str]:
    lowered = [needle.casefold() for needle in needles]
    return sorted({n for text in _texts(history) for n in lowered if n in text.casefold()})


def test_saved_histories_hold_no_personal_data() -> None:
    """Recorded from the suite's members (tests.support.helpers.member_body: Wang Fang, +8613800138000, and
    addresses at example.com)."""
    paths = sorted(HISTORIES.glob("*.json"))
    assert paths
    for path in paths:
        assert _mentions(json.loads(path.read_text()), ["Wang Fang", "+8613800138000", "@example.com"]) == [], path


async def _histories(client: Client, query: str) -> dict[str, dict[str, Any]]:
    found = {}
    async for execution in client.list_workflows(query):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        found[f"{execution.workflow_type}:{execution.id}"] = json.loads(history.to_json())
    return found


async def test_fresh_histories_of_every_workflow_a_member_runs_hold_no_personal_data(
    admin: ApiClient,
    shop: ApiClient,
    marketer: ApiClient,
    sessions: Sessions,
    settings: Settings,
    temporal: WorkflowEnvironment,
) -> None:
    mark = uuid.uuid4().hex[:10]
    person = {"name": f"Qian Traceable {mark}", "email": f"trace-{mark}@example.org", "phone": "+8613912345678"}
    member_tag = f"hist_{mark}"
    async with running_workers(temporal.client, sessions, settings):
        member = await create_member(shop, **person, tags=[member_tag], consent={"email": True, "sms": True})
        member_id = member["id"]
        assert (await shop.post("/api/v1/orders", json=order_body(member_id))).status_code == 201
        adjustment = {"points": 8000, "reason": "history test"}
        response = await admin.post(
            f"/api/v1/members/{member_id}/points/adjustments", json=adjustment, headers={"Idempotency-Key": mark}
        )
        assert response.status_code == 201, response.text
        reward_id = await create_reward(admin, cost=5001, stock=1)
        redemption = await shop.post("/api/v1/redemptions", json={"member_id": member_id, "reward_id": reward_id})
        assert redemption.status_code == 202, redemption.text
        kind = await add_journey(sessions)
        segment_id = await add_segment(sessions, member_tag)
        body = {"name": f"History {mark}", "segment_id": str(segment_id), "journey_kind": kind, "start": True}
        campaign = await marketer.post("/api/v1/campaigns", json=body)
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]

        async def all_ran() -> bool:
            counted = await temporal.client.count_workflows(f'MemberId = "{member_id}"')
            done = (await marketer.get(f"/api/v1/campaigns/{campaign_id}")).json()["status"] == "completed"
            return counted.count >= 4 and done  # welcome, first purchase, campaign journey, approval

        await eventually(all_ran, what="the member's journeys, the campaign and the approval")
        histories = await _histories(temporal.client, f'MemberId = "{member_id}"')
        campaign_run = contracts.campaign_workflow_id(campaign_id)
        histories |= await _histories(temporal.client, f'WorkflowId = "{campaign_run}"')
    types = {name.split(":")[0] for name in histories}
    assert {"JourneyWorkflow", "RedemptionApproval", "CampaignWorkflow"} <= types, types
    # The search sees inside payloads: the member's id, which workflows do carry, is found in each journey's.
    assert all(_mentions(h, [member_id]) for name, h in histories.items() if name.startswith("JourneyWorkflow"))
    leaks = {name: _mentions(h, list(person.values())) for name, h in histories.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
