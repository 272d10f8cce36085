"""The journey suite's payload mode: in clear by default, sealed under MEMBERFLOW_TEST_CODEC=1 (`make
pytest-codec`). This test proves which one a run used, by reading a journey's stored input with a client that
has no codec, so a codec run that silently fell back to clear payloads fails here."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.support.codec import codec_on
from tests.support.helpers import ApiClient, midday_zone, new_member_id

pytestmark = pytest.mark.time_skipping


async def test_journey_payloads_are_sealed_exactly_when_the_codec_run_asks(
    shop: ApiClient, temporal_env: WorkflowEnvironment, workers: None
) -> None:
    member_id = await new_member_id(shop, timezone=midday_zone(), consent={"email": True, "sms": True})
    raw = Client(temporal_env.client.service_client, namespace=temporal_env.client.namespace)
    handle = raw.get_workflow_handle(f"journey-welcome-{member_id}")
    for _ in range(400):  # the outbox starts the journey right after the sign-up commits
        try:
            history = await handle.fetch_history()
            break
        except RPCError:
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the welcome journey never started")
    started = history.events[0].workflow_execution_started_event_attributes
    [stored] = started.input.payloads
    expected = b"binary/encrypted" if codec_on() else b"json/plain"
    assert stored.metadata["encoding"] == expected
    assert (member_id.encode() in stored.data) is not codec_on()
    assert (temporal_env.client.data_converter.payload_codec is not None) is codec_on()
