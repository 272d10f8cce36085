"""The approver inbox in the console: decisions go through the RedemptionApproval workflow (time-skipping test
server and the real worker), and the points, the approval and the history change accordingly."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models import Approval
from services.loyalty import ledger
from services.platform.api_keys import Role
from tests.support.console import console_client, csrf, pending_redemption, sign_in
from tests.support.helpers import ApiClient, KeyMaker

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.time_skipping  # the app and the workers talk to this test's own time-skipping server


async def _approval(sessions: Sessions, approval_id: uuid.UUID) -> Approval:
    async with sessions() as session:
        found = await session.get(Approval, approval_id)
        assert found is not None
        return found


async def _posted(sessions: Sessions, member_id: uuid.UUID) -> tuple[int, int]:
    async with sessions() as session:
        balance = await ledger.balance(session, member_id)
        return balance.posted, balance.held


def _card(html: str, approval_id: uuid.UUID) -> str:
    found = re.search(rf'<article class="card approval[^"]*" id="approval-{approval_id}".*?</article>', html, re.S)
    assert found is not None, "the approval is not in the inbox"
    return found.group(0)


async def test_approve_from_the_inbox_spends_the_held_points(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, workers: list[Worker], sessions: Sessions
) -> None:
    task = await pending_redemption(shop, admin, sessions)
    assert await _posted(sessions, task.member_id) == (10000, 6000)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.APPROVER))
        inbox = await client.get("/console/inbox")
        assert inbox.status_code == 200
        card = _card(inbox.text, task.id)
        assert "6,000 points" in card
        # The member as an approver's view shows them (services.privacy.masking): recognisable, not readable.
        assert "Z*" in card
        assert "Zhang Wei" not in card
        assert '<dd class="member-phone">138****8000</dd>' in card
        assert "+8613800138000" not in card
        assert "account created 0 day(s) before the request" in card  # a risk hint
        assert "4,000 (after the hold)" in card
        token = csrf(inbox.text)
        forged = await client.post(f"/console/inbox/{task.id}/approve", data={"csrf_token": "nope"})
        assert forged.status_code == 403
        assert (await _approval(sessions, task.id)).status == "pending"
        approved = await client.post(f"/console/inbox/{task.id}/approve", data={"csrf_token": token, "reason": "ok"})
        assert approved.status_code == 303, approved.text
        assert "approved" in approved.headers["location"]
        decided = await _approval(sessions, task.id)
        assert decided.status == "approved"
        assert decided.decided_by is not None
        assert decided.decided_by.startswith("test-approver")
        assert await _posted(sessions, task.member_id) == (4000, 0)
        after = await client.get("/console/inbox")
        assert f'id="approval-{task.id}"' not in after.text
        history = after.text.split('<table id="history">')[1]
        assert '<span class="status approved">approved</span>' in history
        member = await client.get(f"/console/members/{task.member_id}")
        assert 'data-available="4000"' in member.text
        again = await client.post(f"/console/inbox/{task.id}/approve", data={"csrf_token": token})
        assert again.status_code == 409
        assert '<p class="error" role="alert">this redemption is fulfilling, decided by test-approver' in again.text


async def test_reject_needs_a_reason_and_releases_the_hold(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, workers: list[Worker], sessions: Sessions
) -> None:
    task = await pending_redemption(shop, admin, sessions)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.APPROVER))
        token = csrf((await client.get("/console/inbox")).text)
        missing = await client.post(f"/console/inbox/{task.id}/reject", data={"csrf_token": token, "reason": "  "})
        assert missing.status_code == 422
        assert "Give a reason for the rejection." in _card(missing.text, task.id)
        assert (await _approval(sessions, task.id)).status == "pending"
        rejected = await client.post(
            f"/console/inbox/{task.id}/reject", data={"csrf_token": token, "reason": "duplicate <account>"}
        )
        assert rejected.status_code == 303
        decided = await _approval(sessions, task.id)
        assert (decided.status, decided.reason) == ("rejected", "duplicate <account>")
        assert await _posted(sessions, task.member_id) == (10000, 0)
        history = (await client.get("/console/inbox")).text.split('<table id="history">')[1]
        assert "duplicate &lt;account&gt;" in history


async def test_escalated_approvals_stand_out(
    app: FastAPI,
    shop: ApiClient,
    admin: ApiClient,
    make_key: KeyMaker,
    workers: list[Worker],
    sessions: Sessions,
    temporal_env: WorkflowEnvironment,
) -> None:
    task = await pending_redemption(shop, admin, sessions)
    await temporal_env.sleep(timedelta(hours=25))
    for _ in range(100):
        if (await _approval(sessions, task.id)).escalated:
            break
        await asyncio.sleep(0.05)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.APPROVER))
        card = _card((await client.get("/console/inbox")).text, task.id)
        assert card.startswith('<article class="card approval escalated"')
        assert "Escalated" in card


async def test_a_marketer_cannot_decide(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, workers: list[Worker], sessions: Sessions
) -> None:
    task = await pending_redemption(shop, admin, sessions)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.MARKETER))
        token = csrf((await client.get("/console/journeys")).text)
        refused = await client.post(f"/console/inbox/{task.id}/approve", data={"csrf_token": token})
        assert refused.status_code == 403
        assert (await _approval(sessions, task.id)).status == "pending"
