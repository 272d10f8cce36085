"""The signed warehouse webhook: an approved redemption is sent to a real local HTTP server as JSON signed with
HMAC-SHA256 of the exact body, once, with the redemption id as its Idempotency-Key; the warehouse's 5xx is
retried and its 4xx is final. The body carries ids and the reward's name, never the member's personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities, WarehouseNotice
from core.settings import Settings
from services.messaging.providers import build_providers
from tests.support.console import pending_redemption
from tests.support.helpers import ApiClient
from tests.support.http_sink import HttpSink, Received, http_sink
from tests.support.waiting import value_when

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def warehouse() -> AsyncIterator[HttpSink]:
    async with http_sink((200, {"accepted": True}), path="/ship") as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, warehouse: HttpSink) -> Settings:
    """This test's workers send fulfilment to the local warehouse."""
    approvals = settings.approvals.model_copy(update={"fulfilment": "webhook", "fulfilment_url": warehouse.url})
    return settings.model_copy(update={"approvals": approvals})


def _signed_by(settings: Settings, call: Received) -> bool:
    """What a warehouse does: recompute the HMAC of the raw body with the shared secret and compare."""
    assert settings.secret_key is not None
    expected = hmac.new(settings.secret_key.get_secret_value().encode(), call.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(call.headers["x-memberflow-signature"], f"sha256={expected}")


def _notice() -> WarehouseNotice:
    return WarehouseNotice(redemption_id=str(uuid.uuid4()), reward_name="Tea set", member_id=str(uuid.uuid4()))


async def _notify(sessions: Sessions, settings: Settings, url: str, notice: WarehouseNotice) -> str:
    approvals = settings.approvals.model_copy(update={"fulfilment": "webhook", "fulfilment_url": url})
    configured = settings.model_copy(update={"approvals": approvals})
    activities = ApprovalActivities(sessions, build_providers(configured.messaging), configured)
    result: str = await ActivityEnvironment().run(activities.notify_warehouse, notice)
    return result


async def test_the_webhook_is_signed_over_the_exact_body_and_keyed_by_the_redemption(
    sessions: Sessions, settings: Settings, warehouse: HttpSink
) -> None:
    notice = _notice()
    assert await _notify(sessions, settings, warehouse.url, notice) == "sent"
    [call] = warehouse.received
    assert (call.method, call.path, call.headers["content-type"]) == ("POST", "/ship", "application/json")
    assert call.json() == {"redemption_id": notice.redemption_id, "reward": "Tea set", "member_id": notice.member_id}
    assert call.headers["idempotency-key"] == notice.redemption_id
    assert _signed_by(settings, call)
    # The signature is over these bytes: one changed byte, or another secret, does not verify.
    tampered = Received(call.method, call.path, call.headers, call.body.replace(b"Tea set", b"Tea sex"))
    assert not _signed_by(settings, tampered)
    other = settings.model_copy(update={"secret_key": type(settings.secret_key)("another-secret")})
    assert not _signed_by(other, call)


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [(503, "WarehouseUnavailable", True), (500, "WarehouseUnavailable", True), (422, "WarehouseRefused", False)],
)
async def test_a_5xx_is_retried_and_a_4xx_is_final(
    sessions: Sessions, settings: Settings, status: int, error_type: str, retryable: bool
) -> None:
    async with http_sink((status, {"error": "no"}), path="/ship") as sink:
        with pytest.raises(ApplicationError) as failure:
            await _notify(sessions, settings, sink.url, _notice())
    assert (failure.value.type, failure.value.non_retryable) == (error_type, not retryable)
    assert len(sink.received) == 1


@pytest.mark.time_skipping
async def test_an_approval_calls_the_warehouse_once_with_ids_only(
    shop: ApiClient,
    admin: ApiClient,
    approver: ApiClient,
    sessions: Sessions,
    settings: Settings,
    warehouse: HttpSink,
    workers: list[Worker],
) -> None:
    name = f"Zhang Wei {uuid.uuid4().hex[:4]}"
    task = await pending_redemption(shop, admin, sessions, member_name=name, reward_name="Tea set")
    approved = await approver.post(f"/api/v1/approvals/{task.id}/approve")
    assert approved.status_code == 200, approved.text
    calls = await value_when(lambda: _received(warehouse), bool, what="the warehouse call")
    [call] = calls
    assert call.json()["redemption_id"] == call.headers["idempotency-key"] == str(task.redemption_id)
    assert _signed_by(settings, call)
    revealed = await admin.get(f"/api/v1/members/{call.json()['member_id']}", params={"unmasked": "true"})
    member = revealed.json()
    assert member["name"] == name
    for personal in (member["name"], member["email"], member["phone"]):
        assert personal not in call.body.decode()
    shipped = await shop.post(f"/api/v1/redemptions/{task.redemption_id}/shipped", json={"tracking_number": "SF1"})
    assert shipped.json()["status"] == "fulfilled"
    assert len(warehouse.received) == 1  # never called again, even as the run finishes


async def _received(sink: HttpSink) -> list[Received]:
    return list(sink.received)


def test_the_body_is_canonical_json() -> None:
    """Sorted keys, so a warehouse that re-serialises the body it parsed still gets the bytes that were signed."""
    body = json.dumps({"redemption_id": "r", "reward": "x", "member_id": "m"}, sort_keys=True)
    assert list(json.loads(body)) == ["member_id", "redemption_id", "reward"]
