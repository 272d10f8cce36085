"""Portal test helpers: members with addresses of their own, a signed-in client by signed link, codes read from
the SMTP sink, and the sign-in rows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import PortalSignInCode
from services.messaging.service import PORTAL_LINK_PURPOSE
from services.platform import signed
from tests.support.helpers import ApiClient, create_member
from tests.support.messaging import SmtpSink
from tests.support.waiting import value_when

SECRET = "test-secret-key-for-unsubscribe-links"
CODE_IN_SUBJECT = re.compile(r"\b([0-9]{6})\b")


def unique_phone() -> str:
    return "+86139" + str(uuid.uuid4().int)[:8]


async def portal_member(shop: ApiClient, **overrides: Any) -> dict[str, Any]:
    """A member with an email and a phone no other test uses (English unless told otherwise)."""
    values = {"email": f"p-{uuid.uuid4().hex[:10]}@example.com", "phone": unique_phone(), "locale": "en"}
    return await create_member(shop, **(values | overrides))


def link_token(member_id: str, *, minutes: int = 30, secret: str = SECRET) -> str:
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    return signed.sign_link(secret, uuid.UUID(member_id), PORTAL_LINK_PURPOSE, expires)


async def sign_in_by_link(http: httpx.AsyncClient, member_id: str) -> None:
    """Follow a fresh signed link: `http` then holds the member's session cookie."""
    response = await http.get(f"/portal/l/{link_token(member_id)}")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/portal"


async def ask_for_code(http: httpx.AsyncClient, address: str, **headers: str) -> uuid.UUID:
    """POST the sign-in form; the request id from the code page it redirects to."""
    response = await http.post("/portal/sign-in", data={"address": address}, headers=headers)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/portal/sign-in/code?r="), location
    return uuid.UUID(location.rsplit("=", 1)[1])


async def enter_code(http: httpx.AsyncClient, request_id: uuid.UUID, code: str) -> httpx.Response:
    return await http.post("/portal/sign-in/code", data={"request_id": str(request_id), "code": code})


async def code_from_sink(sink: SmtpSink, address: str) -> str:
    """The code of the newest sign-in email to `address`, waiting until it arrives (other emails, such as the
    welcome a sign-up sends, are passed over)."""
    messages = await value_when(lambda: _codes(sink, address), bool, what=f"a sign-in email to {address}")
    found = CODE_IN_SUBJECT.search(str(messages[-1]["Subject"]))
    assert found, messages[-1]["Subject"]
    return found.group(1)


async def _codes(sink: SmtpSink, address: str) -> list[Any]:
    return [message for message in sink.to(address) if CODE_IN_SUBJECT.search(str(message["Subject"]))]


async def sign_in_row(sessions: async_sessionmaker[AsyncSession], request_id: uuid.UUID) -> PortalSignInCode:
    async with sessions() as session:
        row = (await session.execute(select(PortalSignInCode).where(PortalSignInCode.id == request_id))).scalar_one()
        return row


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def redeem_form(html: str, reward_id: str) -> dict[str, str]:
    """The fields of the catalog's redeem form for `reward_id` (its CSRF token and its own form token)."""
    action = f'action="/portal/rewards/{reward_id}/redeem"'
    assert action in html, f"no redeem button for reward {reward_id}"
    form = html.split(action, 1)[1].split("</form>", 1)[0]
    token = re.search(r'name="form_token" value="([^"]+)"', form)
    assert token
    return {"csrf_token": csrf_of(form), "form_token": token.group(1)}


async def give_points(admin: ApiClient, member_id: str, points: int) -> None:
    response = await admin.post(
        f"/api/v1/members/{member_id}/points/adjustments", json={"points": points, "reason": "opening balance"}
    )
    assert response.status_code in (200, 201), response.text


async def available_points(shop: ApiClient, member_id: str) -> int:
    return int((await shop.get(f"/api/v1/members/{member_id}/points")).json()["available"])


async def reward(admin: ApiClient, cost: int, **extra: Any) -> dict[str, Any]:
    """A reward only this test knows by name (the catalog is global)."""
    body = {"name": f"Reward {uuid.uuid4().hex[:8]}", "points_cost": cost, **extra}
    response = await admin.post("/api/v1/rewards", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made
