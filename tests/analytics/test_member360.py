"""The member 360 document PostgreSQL builds in one statement is the one the ORM view describes, value for
value: timestamps as pydantic writes them (with and without microseconds), decimals as strings, nested
lists newest first and at most ten long."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schemas.members import Member360Out
from core.settings import Settings
from models import Message
from services.analytics import member360
from services.platform.api_keys import Role
from services.privacy.masking import View
from tests.support.helpers import ApiClient, assert_error, new_member_id, order_body

SHOP = View(Role.INTEGRATION)  # the `shop` fixture's key: its role's masks


async def _orm_view(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, member_id: str, shown: View = SHOP
) -> dict[str, Any]:
    async with sessions() as session:
        view = await member360.view(session, uuid.UUID(member_id))
    out = Member360Out.of_view(
        view, temporal_ui=settings.temporal.ui_url, namespace=settings.temporal.namespace, view=shown
    )
    return out.model_dump(mode="json")


async def _add_messages(sessions: async_sessionmaker[AsyncSession], member_id: str) -> None:
    # Explicit ids: the view lists messages by id, newest first, and two ids made in one millisecond
    # need not be in order.
    older, newer = sorted([uuid.uuid4(), uuid.uuid4()])
    async with sessions() as session:
        session.add(
            Message(
                id=older,
                message_key=f"test-360:{uuid.uuid4()}",
                member_id=uuid.UUID(member_id),
                channel="email",
                template="welcome",
                category="marketing",
                journey_kind="welcome",
                status="sent",
                sent_at=datetime(2026, 1, 15, 10, 31, tzinfo=UTC),
            )
        )
        session.add(
            Message(
                id=newer,
                message_key=f"test-360:{uuid.uuid4()}",
                member_id=uuid.UUID(member_id),
                channel="sms",
                template="first_purchase_reminder",
                category="marketing",
                status="suppressed",
                reason="no consent for sms",
            )
        )
        await session.commit()


async def test_the_one_statement_document_equals_the_orm_view(
    shop: ApiClient, admin: ApiClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    member_id = await new_member_id(shop, tags=["vip", "tea"], consent={"email": True, "sms": True})
    placed = ["2026-01-15T10:30:00Z", "2026-01-16T08:00:00.250000Z"] + [
        f"2026-02-{day:02d}T09:15:00.000001Z" for day in range(1, 12)
    ]
    for index, when in enumerate(placed):
        body = order_body(member_id, amount=f"{10 + index}.05", placed_at=when)
        assert (await shop.post("/api/v1/orders", json=body)).status_code == 201
    await _add_messages(sessions, member_id)

    response = await shop.get(f"/api/v1/members/{member_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == await _orm_view(sessions, settings, member_id)
    revealed = await admin.get(f"/api/v1/members/{member_id}", params={"unmasked": "true"})
    assert revealed.json() == await _orm_view(sessions, settings, member_id, View(Role.ADMIN, unmasked=True))
    # The content itself, so that the comparison cannot pass on two empty documents.
    assert len(served["recent_orders"]) == 10
    assert served["recent_orders"][0]["placed_at"] == "2026-02-11T09:15:00.000001Z"
    assert served["recent_orders"][0]["amount"] == "22.05"
    assert [m["template"] for m in served["recent_messages"]] == ["first_purchase_reminder", "welcome"]
    assert served["recent_messages"][1]["sent_at"] == "2026-01-15T10:31:00Z"
    assert served["order_count"] == 13
    assert served["points"]["posted"] >= sum(10 + index for index in range(13))
    assert served["recent_ledger"][0]["created_at"].endswith("Z")
    assert served["tags"] == ["vip", "tea"]
    assert served["consent"]["sms"] is True
    assert served["links"]["welcome_journey"].endswith(f"journey-welcome-{member_id}")


async def test_a_new_member_without_orders_and_an_unknown_member(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    member_id = await new_member_id(shop, consent={"email": False, "sms": False}, birthday=None, phone=None)
    served = (await shop.get(f"/api/v1/members/{member_id}")).json()
    assert served == await _orm_view(sessions, settings, member_id)
    assert served["recent_orders"] == []
    assert served["recent_messages"] == []
    assert served["birthday"] is None
    assert_error(await shop.get(f"/api/v1/members/{uuid.uuid4()}"), 404, "member_not_found")
    assert_error(await shop.get("/api/v1/members/not-a-uuid"), 422)
