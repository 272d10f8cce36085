"""The portal's side of referrals: the join page carries a member's code (`/portal/join?ref=`) and links the
new member; a refused code still signs the visitor up and the next page says why; the home page's "Invite
friends" card shows the member's code, link and QR code."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from models import Member
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.portal import portal_member, sign_in_by_link, unique_phone
from tests.support.referrals import code_of, programme_set, referral_of


def _email() -> str:
    return f"rj-{uuid.uuid4().hex[:10]}@example.com"


async def _member_id(sessions: Sessions, email: str) -> str:
    async with sessions() as session:
        return str((await session.execute(select(Member.id).where(Member.email == email))).scalar_one())


async def _join(http: httpx.AsyncClient, ref: str, **fields: str) -> httpx.Response:
    page = await http.get("/portal/join", params={"ref": ref})
    assert page.status_code == 200
    hidden = page.text.split('name="ref" value="', 1)[1].split('"', 1)[0] if 'name="ref"' in page.text else ""
    return await http.post("/portal/join", data={"ref": hidden, **fields})


async def test_joining_with_a_code_links_the_member_and_the_card_shows_the_invitation(
    http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions
) -> None:
    referrer = await portal_member(shop)
    code = await code_of(sessions, referrer["id"])
    page = await http.get("/portal/join", params={"ref": f"{code[:4].lower()}-{code[4:]}"})
    assert f'name="ref" value="{code}"' in page.text
    email = _email()
    answer = await _join(http, code, email=email, phone=unique_phone())
    assert answer.status_code == 303, answer.text
    assert "referral=" not in answer.headers["location"]
    referee = await _member_id(sessions, email)
    linked = await referral_of(sessions, referee)
    assert linked is not None
    assert (str(linked.referrer_id), linked.status) == (referrer["id"], "linked")

    await sign_in_by_link(http, referee)
    home = (await http.get("/portal")).text
    own = await code_of(sessions, referee)  # made by the card on its first showing
    assert f"Your code: {own}" in home
    assert f"http://memberflow.test/portal/join?ref={own}" in home
    assert "<svg" in home.split('data-testid="invite"', 1)[1]


async def test_a_refused_code_signs_up_without_the_referral_and_says_why(
    http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions
) -> None:
    """An address that is already a member's makes no new member at all (test_join.py), so the refusals a
    visitor meets here are an unknown code and a referrer at the monthly limit."""
    referrer = await portal_member(shop)
    code = await code_of(sessions, referrer["id"])
    async with programme_set(sessions, monthly_limit=1):
        first = await _join(http, code, email=_email())
        assert "referral=" not in first.headers["location"]
        for ref, reason, text in (
            ("ZZZZZZZZ", "referral_code_unknown", "the invitation code was not recognised"),
            (code, "referral_limit_reached", "has invited the most people allowed this month"),
        ):
            email = _email()
            answer = await _join(http, ref, email=email)
            assert answer.status_code == 303, answer.text
            location = answer.headers["location"]
            assert location.endswith(f"&referral={reason}")
            assert await referral_of(sessions, await _member_id(sessions, email)) is None
            assert text in (await http.get(location)).text
    # A made-up reason in the address shows nothing.
    shown = await http.get(f"/portal/sign-in/code?r={uuid.uuid4()}&referral=%3Cb%3Ehi")
    assert shown.status_code == 200
    assert 'data-testid="referral-refused"' not in shown.text
