"""An API process SIGKILLed with order posts in flight: each post retried with the same Idempotency-Key (on
another API server, where a shop's retry through a load balancer would land) gives the first result exactly
once: the same body where the first answer arrived, one order row and one earning per post, the points once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from devstack.embedded import free_port
from models import LedgerAccount, LedgerTransaction, Order
from tests.support.helpers import ApiClient, zone_where_it_is

MEMBERS, ORDERS_EACH, ORDER_POINTS = 10, 5, 129
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api_process(
    database_url: str, temporal_dev: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`memberflow api` as a process of its own over the test database and the shared dev server."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")},
        "MEMBERFLOW_DATABASE_URL": database_url,
        "MEMBERFLOW_TEMPORAL__ADDRESS": temporal_dev.client.service_client.config.target_host,
        "MEMBERFLOW_TEMPORAL__TASK_QUEUE": task_queue,
        "MEMBERFLOW_API__PORT": str(port),
        "MEMBERFLOW_API__WORKERS": "1",
        "MEMBERFLOW_SECRET_KEY": "test-secret-key-for-unsubscribe-links",
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "api"], cwd=ROOT, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the API process did not start within 60 s"
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def _new_members(shop: ApiClient) -> list[str]:
    ids = []
    for _ in range(MEMBERS):
        address = f"killed-{uuid.uuid4().hex}@example.com"
        body = {"external_id": address, "email": address, "timezone": zone_where_it_is(13)}
        response = await shop.post("/api/v1/members", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _order(member_id: str) -> dict[str, object]:
    return {
        "external_id": f"killed-{uuid.uuid4().hex}",
        "member_id": member_id,
        "amount": "129.90",
        "currency": "CNY",
        "placed_at": datetime.now(UTC).isoformat(),
    }


async def _burst_and_kill(
    url: str, proc: subprocess.Popen[bytes], key: str, posts: dict[str, dict[str, object]]
) -> tuple[dict[str, httpx.Response], int]:
    """Every post at once to the process; SIGKILL it once a third are answered. Returns the answers that came
    and how many posts were still in flight at the kill."""
    answered: dict[str, httpx.Response] = {}
    enough = asyncio.Event()
    limits = httpx.Limits(max_connections=len(posts))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def send(idem: str, body: dict[str, object]) -> None:
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idem}
            try:
                answered[idem] = await http.post("/api/v1/orders", json=body, headers=headers)
            except httpx.TransportError:
                return  # the connection died with the process
            if len(answered) * 3 >= len(posts):
                enough.set()

        tasks = [asyncio.create_task(send(idem, body)) for idem, body in posts.items()]
        await asyncio.wait_for(enough.wait(), 60)
        in_flight = sum(1 for task in tasks if not task.done())
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.gather(*tasks)
    return answered, in_flight


async def test_a_retry_after_the_api_was_killed_mid_request_gives_the_first_result_once(
    api_process: tuple[str, subprocess.Popen[bytes]], shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    url, proc = api_process
    members = await _new_members(shop)
    posts = {f"killed-{uuid.uuid4().hex}": _order(m) for m in members for _ in range(ORDERS_EACH)}

    first, in_flight = await _burst_and_kill(url, proc, shop.key, posts)
    retried = {
        idem: await shop.post("/api/v1/orders", json=body, headers={"Idempotency-Key": idem})
        for idem, body in posts.items()
    }

    assert in_flight > 0  # the kill did cut requests off
    assert len(first) < len(posts)
    assert all(r.status_code == 201 for r in first.values())
    assert all(r.status_code == 201 for r in retried.values()), [r.text for r in retried.values()]
    assert all(retried[idem].json() == answer.json() for idem, answer in first.items())
    assert all(retried[idem].headers.get("Idempotent-Replayed") == "true" for idem in first)
    order_ids = {r.json()["id"] for r in retried.values()}
    assert len(order_ids) == len(posts)
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Order).where(Order.member_id.in_(members)))
        earned = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.reference_id.in_(order_ids), LedgerTransaction.kind == "earn")
        )
        balances = (
            (await session.execute(select(LedgerAccount.posted).where(LedgerAccount.member_id.in_(members))))
            .scalars()
            .all()
        )
    assert stored == earned == len(posts)
    assert balances == [ORDERS_EACH * ORDER_POINTS] * MEMBERS
