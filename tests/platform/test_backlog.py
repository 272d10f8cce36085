"""The Temporal backlog made visible: commands committed to the outbox but not yet delivered, counted on
/metrics and on the console dashboard, with the age of the oldest."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import TemporalOutbox
from services.platform import outbox
from services.platform.api_keys import Role
from tests.support.console import console_client, sign_in
from tests.support.helpers import KeyMaker
from workflows.contracts import WorkflowSignal

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def hour_old_signal(sessions: Sessions) -> AsyncIterator[int]:
    """An undelivered signal written an hour ago (as if Temporal had been away), removed afterwards."""
    async with sessions() as session:
        signal = WorkflowSignal(workflow_id=f"backlog-test-{uuid.uuid4()}", name="event")
        row = await outbox.enqueue_signal(session, signal)
        await session.execute(
            update(TemporalOutbox).where(TemporalOutbox.id == row.id).values(created_at=func.now() - timedelta(hours=1))
        )
        await session.commit()
    yield row.id
    async with sessions() as session:
        await session.execute(delete(TemporalOutbox).where(TemporalOutbox.id == row.id))
        await session.commit()


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([\d.e+-]+)$", text, re.M)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def test_metrics_count_the_queued_commands_and_the_oldest_age(
    http: httpx.AsyncClient, sessions: Sessions, hour_old_signal: int
) -> None:
    text = (await http.get("/metrics")).text
    assert _metric(text, 'memberflow_temporal_outbox_queued{kind="signal"}') >= 1
    assert _metric(text, "memberflow_temporal_outbox_oldest_age_seconds") >= 3600
    assert _metric(text, "memberflow_temporal_outbox_scrape_ok") == 1
    async with sessions() as session:
        queued = await outbox.backlog(session)
    assert queued.signals >= 1
    assert queued.oldest_age_seconds >= 3600


async def test_the_dashboard_shows_the_backlog(app: FastAPI, make_key: KeyMaker, hour_old_signal: int) -> None:
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        page = await client.get("/console")
    assert page.status_code == 200
    line = re.search(r"Queued for Temporal: ([\d,]+), oldest (\d+)s", page.text)
    assert line, "the dashboard has no backlog line"
    assert int(line.group(1).replace(",", "")) >= 1
    assert int(line.group(2)) >= 3600
