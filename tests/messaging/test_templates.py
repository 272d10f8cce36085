"""Templates: locale fallback, the built-ins, editing with syntax checks, preview, custom member fields and the
mandatory opt-out."""

from __future__ import annotations

import uuid

import httpx
from temporalio.testing import ActivityEnvironment

from core.settings import Settings
from services.members import fields as member_fields
from services.messaging import available_variables, templates
from services.messaging.templates import locale_candidates
from services.platform.api_keys import Role
from tests.support.fields import fields_defined
from tests.support.helpers import ApiClient, KeyMaker, assert_error
from tests.support.messaging import Sessions, SmtpSink
from tests.support.messaging import issued_coupon as _coupon
from tests.support.messaging import message_row as _row
from tests.support.messaging import messaging_activities as _activities
from tests.support.messaging import new_member as _member
from tests.support.messaging import send_input as _send


def test_locale_fallback_order() -> None:
    shipped = {"en", "zh-CN"}
    assert locale_candidates("zh-CN", shipped)[0] == "zh-CN"
    assert locale_candidates("zh-TW", shipped)[0] == "zh-CN"  # same language beats English
    assert locale_candidates("zh-TW", shipped | {"zh"})[0] == "zh"
    assert locale_candidates("en-GB", shipped)[0] == "en"
    assert locale_candidates("fr-FR", shipped) == ["en"]
    assert locale_candidates("fr", {"zh-CN"}) == []


async def test_every_builtin_template_ships_in_english_and_chinese(sessions: Sessions) -> None:
    from services.journeys.builtins import BUILTIN_TEMPLATES

    redemptions = [
        ("email", key)
        for key in (
            "redemption_pending",
            "redemption_approved",
            "redemption_rejected",
            "redemption_expired",
            "redemption_shipped",
            "approval_request",
        )
    ]
    async with sessions() as session:
        rows = await templates.list_templates(session)
        assert await templates.seed_builtin_templates(session) == 0  # idempotent
    have = {(t.channel, t.key, t.locale) for t in rows}
    for channel, key in [*BUILTIN_TEMPLATES, *redemptions]:
        assert {(channel, key, "en"), (channel, key, "zh-CN")} <= have, (channel, key)


async def test_a_member_gets_their_locale_or_its_fallback(
    shop: ApiClient, sessions: Sessions, settings: Settings, smtp_sink: SmtpSink
) -> None:
    activities, env = _activities(sessions, settings), ActivityEnvironment()
    for locale, expected, subject in (
        ("zh-CN", "zh-CN", "欢迎加入Tea House，王芳"),
        ("zh-TW", "zh-CN", "欢迎加入Tea House，王芳"),
        ("fr-FR", "en", "Welcome to Tea House, 王芳"),
    ):
        member = await _member(shop, name="王芳", locale=locale)
        inp = _send(member["id"])
        assert (await env.run(activities.send, inp)).status == "sent"
        row = await _row(sessions, inp.message_key)
        assert row is not None
        assert (row.locale, row.subject) == (expected, subject)
        (mail,) = smtp_sink.to(member["email"])
        assert mail["Subject"] == subject
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        assert "王芳" in text.get_content()


async def test_templates_are_edited_with_syntax_checks_and_roles(
    marketer: ApiClient, shop: ApiClient, make_key: KeyMaker, http: httpx.AsyncClient
) -> None:
    key = f"promo_{uuid.uuid4().hex[:8]}"
    url = f"/api/v1/templates/{key}/email/en"
    broken = {"subject": "Hello", "body": "<p>Hi</p>\n<p>{{ member.name </p>\n"}
    error = assert_error(await marketer.put(url, json=broken), 422, "template_syntax_error")
    assert "body line 2" in error["message"]
    assert error["details"][0]["field"] == "body.body"
    assert error["details"][0]["line"] == 2
    bad_subject = {"subject": "{% if %}", "body": "<p>ok</p>"}
    assert assert_error(await marketer.put(url, json=bad_subject), 422)["details"][0]["field"] == "body.subject"
    assert_error(await marketer.put(url, json={"body": "<p>no subject</p>"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"subject": "x", "body": "x"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/fax/en", json={"body": "x"}), 422)
    assert_error(await marketer.put(f"/api/v1/templates/{key}/sms/english", json={"body": "x"}), 422)
    ops = ApiClient(http, await make_key(Role.OPS))
    assert_error(await ops.put(url, json={"subject": "Hi", "body": "<p>x</p>"}), 403)
    assert_error(await shop.put(url, json={"subject": "Hi", "body": "<p>x</p>"}), 403)

    saved = await marketer.put(url, json={"subject": "Hi {{ member.name }}", "body": "<p>{{ brand }}</p>"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["updated_by"].startswith("test-marketer")
    replaced = await marketer.put(url, json={"subject": "Hello {{ member.name }}", "body": "<p>v2</p>"})
    assert replaced.json()["subject"] == "Hello {{ member.name }}"
    listed = (await ops.get("/api/v1/templates", params={"key": key})).json()
    assert [(t["key"], t["channel"], t["locale"], t["body"]) for t in listed] == [(key, "email", "en", "<p>v2</p>")]


async def test_preview_renders_member_fields_and_coupon_escaped(
    marketer: ApiClient, shop: ApiClient, settings: Settings
) -> None:
    member = await _member(shop, name="Tom <b>&", locale="en")
    coupon = await _coupon(marketer, shop, member["id"])
    body = {"template": "welcome", "channel": "email", "member_id": member["id"], "coupon_code": coupon}
    response = await marketer.post("/api/v1/templates/preview", json=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["subject"] == "Welcome to Tea House, Tom <b>&"  # a header: not HTML
    assert "Welcome, Tom &lt;b&gt;&amp;!" in preview["body"]
    assert f"<strong>{coupon}</strong>" in preview["body"]
    assert "10% off" in preview["body"]
    assert "http://memberflow.test/u/preview-unsubscribe-link" in preview["body"]
    assert "Tom <b>&" in preview["text"]
    chinese = await marketer.post("/api/v1/templates/preview", json={**body, "locale": "zh-CN"})
    assert chinese.json()["locale"] == "zh-CN"
    assert "9折" in chinese.json()["body"]
    sms = {"template": "cart_reminder", "channel": "sms", "member_id": member["id"], "coupon_code": coupon}
    assert (
        (await marketer.post("/api/v1/templates/preview", json=sms)).json()["body"].endswith("Reply STOP to opt out.")
    )

    assert_error(await marketer.post("/api/v1/templates/preview", json={**body, "coupon_code": "MF-NONE"}), 404)
    unknown = {**body, "member_id": str(uuid.uuid4())}
    assert_error(await marketer.post("/api/v1/templates/preview", json=unknown), 404, "member_not_found")
    assert_error(await marketer.post("/api/v1/templates/preview", json={**body, "template": "nope"}), 404)
    assert_error(await shop.post("/api/v1/templates/preview", json=body), 403)


async def test_marketing_always_carries_an_opt_out_whatever_the_template_says(
    marketer: ApiClient, shop: ApiClient
) -> None:
    member = await _member(shop, locale="en")
    key = f"flash_{uuid.uuid4().hex[:8]}"
    email_put = {"subject": "Flash sale", "body": "<p>Don't stop now!</p>"}
    assert (await marketer.put(f"/api/v1/templates/{key}/email/en", json=email_put)).status_code == 200
    assert (await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"body": "Don't stop now!"})).status_code == 200
    preview = {"template": key, "member_id": member["id"]}
    email_body = (await marketer.post("/api/v1/templates/preview", json={**preview, "channel": "email"})).json()["body"]
    assert ">Unsubscribe</a>" in email_body
    sms = await marketer.post("/api/v1/templates/preview", json={**preview, "channel": "sms"})
    assert sms.json()["body"] == "Don't stop now! Reply STOP to opt out."
    service = {**preview, "channel": "sms", "category": "transactional"}
    assert (await marketer.post("/api/v1/templates/preview", json=service)).json()["body"] == "Don't stop now!"
    receipt = await marketer.post(
        "/api/v1/templates/preview", json={**preview, "channel": "email", "category": "transactional"}
    )
    assert "Unsubscribe" not in receipt.json()["body"]


async def test_templates_print_custom_fields_and_nothing_for_a_missing_value(
    admin: ApiClient, marketer: ApiClient, shop: ApiClient, sessions: Sessions
) -> None:
    async with fields_defined(
        admin,
        {"field_type": "number", "labels": {"en": "Shoe size", "zh-CN": "鞋码"}},
        {"field_type": "multi_select"},
        {"field_type": "text"},
    ) as (size, colours, nickname):
        shoe_size, likes, nick = size["key"], colours["key"], nickname["key"]
        member = await _member(shop, locale="en", attributes={shoe_size: "42.5", likes: ["blue", "red"]})
        key = f"fit_{uuid.uuid4().hex[:8]}"
        body = (
            f"Size {{{{ attributes.{shoe_size} }}}}; likes {{{{ attributes.{likes} }}}};"
            f"{{% if 'red' in attributes.{likes} %}} red fan;{{% endif %}}"
            f" nick [{{{{ attributes.{nick} }}}}]"
        )
        assert (await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"body": body})).status_code == 200
        preview = {"template": key, "channel": "sms", "member_id": member["id"], "category": "transactional"}
        rendered = await marketer.post("/api/v1/templates/preview", json=preview)
        assert rendered.status_code == 200, rendered.text
        assert rendered.json()["body"] == "Size 42.5; likes red, blue; red fan; nick []"
        typo = {"body": "Size {{ attributes.no_such_field }}"}
        assert (await marketer.put(f"/api/v1/templates/{key}/sms/en", json=typo)).status_code == 200
        assert_error(await marketer.post("/api/v1/templates/preview", json=preview), 422, "template_render_error")

        async with sessions() as session:
            listed = available_variables(await member_fields.list_fields(session))
        assert ("member.name", "Member's name") in listed
        assert (f"attributes.{shoe_size}", "Shoe size") in listed
