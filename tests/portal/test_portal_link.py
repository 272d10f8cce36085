"""`{{ portal_link }}` in memberflow's own messages: a signed, short-lived link that signs the member in."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from sqlalchemy import delete
from temporalio.testing import ActivityEnvironment

from core.settings import Settings
from models import MessageTemplate
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions, SmtpSink, messaging_activities, send_input
from tests.support.portal import portal_member

LINK = re.compile(r"http://memberflow\.test(/portal/l/[A-Za-z0-9_-]+)")


@pytest_asyncio.fixture
async def link_template(marketer: ApiClient, sessions: Sessions) -> AsyncIterator[str]:
    """A template of this test's own (templates are global rows), removed afterwards."""
    key = f"t_portal_{uuid.uuid4().hex[:8]}"
    body = {"subject": "Your points", "body": '<p>See them: <a href="{{ portal_link }}">open</a></p>'}
    assert (await marketer.put(f"/api/v1/templates/{key}/email/en", json=body)).status_code == 200
    yield key
    async with sessions() as session:
        await session.execute(delete(MessageTemplate).where(MessageTemplate.key == key))
        await session.commit()


async def test_a_message_carries_a_link_that_signs_the_member_in(
    http: httpx.AsyncClient,
    shop: ApiClient,
    marketer: ApiClient,
    sessions: Sessions,
    settings: Settings,
    smtp_sink: SmtpSink,
    link_template: str,
) -> None:
    member = await portal_member(shop)
    activities = messaging_activities(sessions, settings, now=lambda: datetime.now(UTC))
    # In an activity context: the send claims the message under the attempt's id.
    inp = send_input(member["id"], link_template, category="transactional")
    sent = await ActivityEnvironment().run(activities.send, inp)
    assert sent.status == "sent"
    text = smtp_sink.to(member["email"])[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = LINK.search(text)
    assert found, text
    opened = await http.get(found.group(1))
    assert opened.status_code == 303
    assert "Available points" in (await http.get("/portal")).text

    preview = await marketer.post(
        "/api/v1/templates/preview",
        json={"template": link_template, "channel": "email", "member_id": member["id"]},
    )
    assert preview.status_code == 200, preview.text
    assert "/portal/l/preview-link" in preview.text
    assert (await http.get("/portal/l/preview-link")).status_code == 400
