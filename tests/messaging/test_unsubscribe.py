"""Opting out: the signed unsubscribe link (and one-click POST) and SMS STOP, after which sends are suppressed."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import httpx
from temporalio.testing import ActivityEnvironment

from core.settings import Settings
from services.messaging.providers import LogProvider, OutgoingSms, Providers
from tests.support.helpers import ApiClient, assert_error
from tests.support.messaging import Sessions, SmtpSink
from tests.support.messaging import issued_coupon as _coupon
from tests.support.messaging import messaging_activities as _activities
from tests.support.messaging import new_member as _member
from tests.support.messaging import send_input as _send


async def test_the_unsubscribe_link_opts_out_once_and_the_next_send_is_suppressed(
    shop: ApiClient, http: httpx.AsyncClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    member = await _member(shop)
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    assert (await env.run(activities.send, _send(member["id"]))).status == "sent"
    (mail,) = smtp_sink.to(member["email"])
    header = mail["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    links = re.findall(r'href="(http://memberflow\.test/u/[^"]+)"', html_part.get_content())
    assert links == [header.strip("<>")]
    path = urlsplit(links[0]).path

    first = await http.get(path)
    assert first.status_code == 200
    assert "text/html" in first.headers["content-type"]
    assert "您已成功退订" in first.text  # the member's locale is zh-CN
    profile = (await shop.get(f"/api/v1/members/{member['id']}")).json()
    assert profile["consent"]["email"] is False
    assert profile["consent"]["email_source"] == "unsubscribe"
    again = await http.get(path)
    assert again.status_code == 200
    assert (await shop.get(f"/api/v1/members/{member['id']}")).json()["consent"] == profile["consent"]
    assert (await http.post(path)).status_code == 200  # one-click (RFC 8058)

    result = await env.run(activities.send, _send(member["id"], "brand_story"))
    assert (result.status, result.reason) == ("suppressed", "opted_out")
    assert len(smtp_sink.to(member["email"])) == 1

    token = path.removeprefix("/u/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/u/{tampered}", "/u/not-a-token", "/u/" + "x" * 300):
        assert_error(await http.get(bad), 400, "invalid_unsubscribe_token")


async def test_sms_stop_opts_the_number_out(
    shop: ApiClient, admin: ApiClient, marketer: ApiClient, sessions: Sessions, settings: Settings
) -> None:
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    member = await _member(shop, phone=phone, consent={"email": True, "sms": True})
    provider = LogProvider()
    activities = _activities(sessions, settings, providers=Providers(email=provider, sms=provider))
    env = ActivityEnvironment()
    coupon = await _coupon(marketer, shop, member["id"], kind="amount", value="5.00")
    sent = await env.run(activities.send, _send(member["id"], "cart_reminder", channel="sms", coupon_code=coupon))
    assert sent.status == "sent"
    (sms,) = provider.sent
    assert isinstance(sms, OutgoingSms)
    assert sms.to == phone
    assert coupon in sms.text
    assert sms.text.endswith("回复TD退订")

    not_stop = await shop.post("/api/v1/sms/inbound", json={"from": phone, "text": "thanks!"})
    assert not_stop.json() == {"stop": False, "opted_out": 0}
    stop = await shop.post("/api/v1/sms/inbound", json={"from": phone, "text": " 退订 "})
    assert stop.status_code == 200, stop.text
    assert stop.json() == {"stop": True, "opted_out": 1}
    assert (await admin.post("/api/v1/sms/inbound", json={"from": phone, "text": "STOP"})).json()["opted_out"] == 0
    consent = (await shop.get(f"/api/v1/members/{member['id']}")).json()["consent"]
    assert (consent["sms"], consent["sms_source"]) == (False, "sms_stop")
    result = await env.run(activities.send, _send(member["id"], "first_purchase_reminder", channel="sms"))
    assert (result.status, result.reason) == ("suppressed", "opted_out")
    assert len(provider.sent) == 1
    assert_error(await marketer.post("/api/v1/sms/inbound", json={"from": phone, "text": "STOP"}), 403)
    assert_error(await shop.post("/api/v1/sms/inbound", json={"sender": phone, "text": "STOP"}), 422)


async def test_a_bad_link_answers_the_json_envelope_the_schema_declares(http: httpx.AsyncClient) -> None:
    """The pages are HTML, their errors JSON: the schema said text/html for the 400 until the schemathesis run
    (tests/platform/test_schema_fuzz.py) compared it with the answer."""
    for method in ("GET", "POST"):
        response = await http.request(method, "/u/not-a-token")
        assert_error(response, 400, "invalid_unsubscribe_token")
        assert response.headers["content-type"] == "application/json"
    operations = (await http.get("/openapi.json")).json()["paths"]["/u/{token}"]
    for operation in operations.values():
        assert operation["responses"]["200"]["content"].keys() == {"text/html"}
        for status in ("400", "422"):
            content = operation["responses"][status]["content"]
            assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
