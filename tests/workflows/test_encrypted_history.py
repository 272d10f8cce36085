"""With payload encryption on, what Temporal stores is ciphertext: a welcome journey run end to end (API,
outbox, worker, messages) leaves a history in which every payload is sealed, read raw by a client without the
codec; the same history decodes and replays with the keys, and cannot be replayed without them. Saved
histories (recorded in clear) still replay with encryption on, so switching it on strands no running journey."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.app import create_app
from core.settings import Settings
from core.temporal import data_converter, ensure_search_attributes
from devstack.embedded import find_binary
from services.platform.api_keys import Role
from tests.support.codec import encrypted
from tests.support.helpers import ApiClient, KeyMaker, create_member, midday_zone
from tests.support.temporal import HISTORIES, started_workers
from worker import workflow_runner
from workflows.contracts import SEARCH_ATTRIBUTES, JourneyInput
from workflows.registry import WORKFLOWS

ENCRYPTED = "binary/encrypted"
SDK_BOOKKEEPING = (
    "/searchAttributes/indexedFields",
    "/markerRecordedEventAttributes/details/patch-data/payloads",
    "/markerRecordedEventAttributes/details/data/payloads",
)


@pytest.fixture
def sealed_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal": encrypted(settings.temporal)})


@pytest_asyncio.fixture
async def sealed_env(sealed_settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=data_converter(sealed_settings.temporal),
    )
    await ensure_search_attributes(env.client, SEARCH_ATTRIBUTES)
    yield env
    await env.shutdown()


def _payloads(node: Any, *, under: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, payload) for every payload in a history's JSON, with the key path it was found under."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield under, node
            return
        for key, value in node.items():
            yield from _payloads(value, under=f"{under}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value, under=under)


def _encoding(payload: dict[str, Any]) -> str:
    return base64.b64decode(payload["metadata"]["encoding"]).decode(errors="replace")


async def _welcome_history(
    sealed_settings: Settings,
    sealed_env: WorkflowEnvironment,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    make_key: KeyMaker,
    member: dict[str, Any],
) -> tuple[str, str]:
    """Sign `member` up through the API and run their welcome journey to its end; (member id, raw history)."""
    application = create_app(sealed_settings, engine=engine, temporal_client=sealed_env.client)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as http,
        started_workers(sealed_env.client, sessions, sealed_settings),
    ):
        shop = ApiClient(http, await make_key(Role.INTEGRATION))
        member_id = str((await create_member(shop, **member))["id"])
        handle = sealed_env.client.get_workflow_handle(f"journey-welcome-{member_id}")
        for _ in range(400):  # the outbox starts it right after the request commits
            try:
                await handle.describe()
                break
            except Exception:  # noqa: BLE001 - not started yet
                await asyncio.sleep(0.05)
        await sealed_env.sleep(timedelta(days=8))
        await handle.result()
    # A client on the same server without the codec: what Temporal's database and its UI hold.
    raw = Client(sealed_env.client.service_client, namespace=sealed_env.client.namespace)
    history = await raw.get_workflow_handle(handle.id).fetch_history()
    return member_id, history.to_json()


@pytest.mark.time_skipping
async def test_a_journey_run_with_encryption_on_stores_no_payload_in_clear(
    sealed_settings: Settings,
    sealed_env: WorkflowEnvironment,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    make_key: KeyMaker,
) -> None:
    person = {"name": "Han Meimei", "email": "han.meimei.codec@example.com", "phone": "+8613911112222"}
    member = {**person, "timezone": midday_zone(), "consent": {"email": True, "sms": True}}
    member_id, raw = await _welcome_history(sealed_settings, sealed_env, engine, sessions, make_key, member)

    found = list(_payloads(json.loads(raw)))
    # Not ours, and left in clear by design: search attributes (Temporal indexes them; they hold ids and step
    # names) and the SDK's own markers (a patch's id; a local activity's sequence number, type and times).
    ours = [(where, p) for where, p in found if not any(mark in where for mark in SDK_BOOKKEEPING)]
    assert len(ours) >= 10, f"too few payloads to prove anything: {len(ours)}"
    clear = [(where, _encoding(p)) for where, p in ours if _encoding(p) != ENCRYPTED]
    assert clear == []
    for where, payload in ours:
        sealed = base64.b64decode(payload.get("data", ""))
        assert member_id.encode() not in sealed, where
        assert base64.b64decode(payload["metadata"]["encryption-key-id"]) == b"test-new"
    for value in person.values():
        assert value not in raw

    # With the keys: the run's input reads back, and the history replays against today's workflow code.
    converter = data_converter(sealed_settings.temporal)
    first = json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    [started] = await converter.decode([_proto(first)], [JourneyInput])
    assert str(started.member_id) == member_id
    history = WorkflowHistory.from_json(f"journey-welcome-{member_id}", raw)
    with_keys = Replayer(workflows=WORKFLOWS, data_converter=converter, workflow_runner=workflow_runner("strict"))
    assert (await with_keys.replay_workflow(history)).replay_failure is None
    without = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    assert (await without.replay_workflow(history, raise_on_replay_failure=False)).replay_failure is not None


def _proto(payload: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in payload["metadata"].items()},
        data=base64.b64decode(payload.get("data", "")),
    )


SAVED = sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
async def test_histories_recorded_in_clear_replay_with_encryption_on(path: Path, sealed_settings: Settings) -> None:
    raw = path.read_text()
    workflow_id = json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId")
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(sealed_settings.temporal),
        workflow_runner=workflow_runner("pass_through"),
    )
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id or path.stem, raw))
    assert result.replay_failure is None, result.replay_failure
