"""The signed-in member's pages: home with tier progress and points, the paged history, the wallet with QR
codes, preferences; and that no page shows another member's data."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from models import AuditEntry, Member
from tests.support.helpers import ApiClient, order_body
from tests.support.messaging import Sessions, issued_coupon
from tests.support.portal import portal_member, sign_in_by_link


async def _coupon_id(shop: ApiClient, member_id: str, code: str) -> str:
    listed = await shop.get(f"/api/v1/members/{member_id}/coupons")
    return str(next(c["id"] for c in listed.json() if c["code"] == code))


async def test_home_shows_tier_progress_points_and_recent_activity(http: httpx.AsyncClient, shop: ApiClient) -> None:
    member = await portal_member(shop)
    order = await shop.post("/api/v1/orders", json=order_body(member["id"], amount="400.00"))
    assert order.status_code in (200, 201), order.text
    await sign_in_by_link(http, member["id"])
    home = await http.get("/portal")
    assert home.status_code == 200
    text = home.text
    assert 'data-testid="available-points">400<' in text
    # Default ladder: silver above 1,000, so 600.00 still to spend, 40% of the way.
    assert "Spend more than 600.00 to reach Silver" in text
    assert 'aria-valuenow="40"' in text
    assert "Points earned" in text
    assert "+400" in text
    assert "400 points expire on" in text
    assert home.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert "<script" not in text


async def test_points_history_pages_through_every_entry(http: httpx.AsyncClient, shop: ApiClient) -> None:
    member = await portal_member(shop)
    for _ in range(23):
        assert (await shop.post("/api/v1/orders", json=order_body(member["id"], amount="1.00"))).status_code in (
            200,
            201,
        )
    await sign_in_by_link(http, member["id"])
    first = await http.get("/portal/points")
    assert first.text.count('class="line"') == 20
    older = first.text.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    second = await http.get(older)
    assert second.text.count('class="line"') == 3
    assert 'rel="next"' not in second.text
    assert (await http.get("/portal/points?before=0")).status_code == 422
    assert (await http.get("/portal/points?before=abc")).status_code == 422


async def test_the_wallet_shows_the_code_and_its_qr(
    http: httpx.AsyncClient, shop: ApiClient, marketer: ApiClient
) -> None:
    member = await portal_member(shop)
    code = await issued_coupon(marketer, shop, member["id"])
    await sign_in_by_link(http, member["id"])
    wallet = await http.get("/portal/wallet")
    coupon_id = await _coupon_id(shop, member["id"], code)
    assert f"/portal/wallet/{coupon_id}" in wallet.text
    page = await http.get(f"/portal/wallet/{coupon_id}")
    assert page.status_code == 200
    assert code in page.text
    assert "viewBox=" in page.text
    assert 'class="segno"' in page.text


async def test_a_member_never_sees_another_members_data(
    http: httpx.AsyncClient, other_browser: httpx.AsyncClient, shop: ApiClient, marketer: ApiClient
) -> None:
    alice = await portal_member(shop, name="Alice Archer")
    bob = await portal_member(shop, name="Bob Baker")
    assert (await shop.post("/api/v1/orders", json=order_body(bob["id"], amount="777.00"))).status_code in (200, 201)
    bobs_code = await issued_coupon(marketer, shop, bob["id"])
    bobs_coupon = await _coupon_id(shop, bob["id"], bobs_code)
    await sign_in_by_link(http, alice["id"])
    await sign_in_by_link(other_browser, bob["id"])

    assert (await other_browser.get(f"/portal/wallet/{bobs_coupon}")).status_code == 200
    stolen = await http.get(f"/portal/wallet/{bobs_coupon}")
    assert stolen.status_code == 404
    assert bobs_code not in stolen.text
    assert (await http.get(f"/portal/wallet/{uuid.uuid4()}")).status_code == 404
    assert (await http.get("/portal/wallet/not-a-coupon")).status_code == 404
    for path in ("/portal", "/portal/points", "/portal/wallet", "/portal/preferences"):
        page = await http.get(path)
        assert page.status_code == 200, path
        for secret in ("Bob", bobs_code, "777"):
            assert secret not in page.text, (path, secret)
    # No page takes a member id from the request: one in the query changes nothing.
    assert "777" not in (await http.get(f"/portal?member_id={bob['id']}")).text


async def test_preferences_record_consent_with_source_portal(
    http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions
) -> None:
    member = await portal_member(shop, consent={"email": True, "sms": False})
    await sign_in_by_link(http, member["id"])
    page = await http.get("/portal/preferences")
    assert "/u/" in page.text  # the unsubscribe link
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    forged = await http.post("/portal/preferences", data={"csrf_token": "nope", "sms": "on"})
    assert forged.status_code == 403
    saved = await http.post("/portal/preferences", data={"csrf_token": csrf, "sms": "on"})
    assert saved.status_code == 303
    assert "Your preferences are saved." in (await http.get(saved.headers["location"])).text
    async with sessions() as session:
        row = (await session.execute(select(Member).where(Member.id == uuid.UUID(member["id"])))).scalar_one()
        audit = (await session.execute(select(AuditEntry).where(AuditEntry.target_id == member["id"]))).scalars().all()
    assert (row.consent_email, row.consent_sms) == (False, True)
    assert row.consent_email_source == row.consent_sms_source == "portal"
    consent = [entry for entry in audit if entry.action == "member.consent"]
    assert len(consent) == 1
    assert consent[0].details == {"email": False, "sms": True, "via": "portal"}


async def test_pages_need_a_session(http: httpx.AsyncClient) -> None:
    for path in (
        "/portal",
        "/portal/points",
        "/portal/wallet",
        f"/portal/wallet/{uuid.uuid4()}",
        "/portal/preferences",
    ):
        answer = await http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/portal/sign-in"
    http.cookies.set("mf_portal", "forged-token", domain="memberflow.test", path="/portal")
    assert (await http.get("/portal")).status_code == 303
    assert (await http.post("/portal/preferences", data={"sms": "on"})).status_code == 303
