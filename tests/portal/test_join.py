"""Registration from a published link: the sign-up service of the API with the link's source in
members.source, a sign-in code to the address given, refusals that create nothing; the source as a segment
condition and a KPI; the console's sources page with each link's QR code."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from temporalio.worker import Worker

from models import AuditEntry, Member, PortalSignInCode
from services.platform.api_keys import Role
from tests.support.console import console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker
from tests.support.messaging import Sessions, SmtpSink
from tests.support.portal import code_from_sink, enter_code, portal_member


def _email() -> str:
    return f"j-{uuid.uuid4().hex[:10]}@example.com"


async def _members_with(sessions: Sessions, email: str) -> list[Member]:
    async with sessions() as session:
        return list((await session.execute(select(Member).where(Member.email == email))).scalars().all())


async def _join(http: httpx.AsyncClient, src: str, **fields: str) -> httpx.Response:
    page = await http.get("/portal/join", params={"src": src})
    assert page.status_code == 200
    hidden = page.text.split('name="src" value="', 1)[1].split('"', 1)[0]
    return await http.post("/portal/join", data={"src": hidden, **fields})


async def test_a_sign_up_records_its_source_and_signs_in_by_code(
    http: httpx.AsyncClient, sessions: Sessions, smtp_sink: SmtpSink, workers: list[Worker]
) -> None:
    email = _email()
    answer = await _join(http, "store-sh-01", email=email, name="Lin Mei", consent_email="on")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/portal/sign-in/code?r=")
    [member] = await _members_with(sessions, email)
    assert (member.source, member.name, member.consent_email, member.consent_email_source) == (
        "store-sh-01",
        "Lin Mei",
        True,
        "portal",
    )
    assert member.external_id.startswith("portal:")
    request_id = uuid.UUID(answer.headers["location"].rsplit("=", 1)[1])
    signed_in = await enter_code(http, request_id, await code_from_sink(smtp_sink, email))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/portal"
    assert "Hello, Lin Mei" in (await http.get("/portal")).text


async def test_a_garbled_source_counts_as_direct_and_case_is_folded(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    for src, stored in (
        ("Store-SH-02", "store-sh-02"),
        ("<script>alert(1)</script>", "direct"),
        ("x" * 80, "direct"),
        ("", "direct"),
    ):
        email = _email()
        answer = await _join(http, src, email=email)
        assert answer.status_code == 303, (src, answer.text)
        [member] = await _members_with(sessions, email)
        assert member.source == stored, src
    assert (await http.get("/portal/join", params={"src": "y" * 201})).status_code == 422


async def test_refused_sign_ups_create_nothing(http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions) -> None:
    for fields, problem in (
        ({"email": "not-an-email"}, "Enter an email address such as lin@example.com."),
        ({"email": ""}, "This field is required."),
        ({"email": _email(), "phone": "12"}, "Enter a mobile number with its country code"),
    ):
        answer = await _join(http, "store-sh-01", **fields)
        assert answer.status_code == 422, fields
        assert "Some fields need a look" in answer.text
        assert problem in answer.text
        if fields["email"] and "@" in fields["email"]:
            assert await _members_with(sessions, fields["email"]) == []
    # An address that is a member's already: no second member, the same answer as for a new one.
    known = await portal_member(shop)
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Member))
    again = await _join(http, "store-sh-01", email=known["email"])
    assert again.status_code == 303
    assert again.headers["location"].startswith("/portal/sign-in/code?r=")
    assert len(await _members_with(sessions, known["email"])) == 1
    async with sessions() as session:
        request = await session.get(PortalSignInCode, uuid.UUID(again.headers["location"].rsplit("=", 1)[1]))
        assert request is not None
        assert str(request.member_id) == known["id"]
        assert await session.scalar(select(func.count()).select_from(Member)) == before


async def test_the_source_is_a_segment_condition_and_a_kpi(
    http: httpx.AsyncClient, marketer: ApiClient, sessions: Sessions
) -> None:
    code = f"store-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        assert (await _join(http, code, email=_email())).status_code == 303
    preview = await marketer.post("/api/v1/segments/preview", json={"definition": {"source": [code]}})
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 2
    negated = await marketer.post("/api/v1/segments/preview", json={"definition": {"not": {"source": [code]}}})
    everyone = await marketer.post("/api/v1/segments/preview", json={"definition": {"all": []}})
    assert negated.json()["count"] == everyone.json()["count"] - 2
    bad = await marketer.post("/api/v1/segments/preview", json={"definition": {"source": ["Not A Code!"]}})
    assert bad.status_code == 422
    kpi = await marketer.get("/api/v1/kpis/sources")
    assert kpi.status_code == 200, kpi.text
    assert {"source": code, "members": 2} in kpi.json()


async def test_the_console_lists_sources_with_their_link_and_qr(
    app: FastAPI, http: httpx.AsyncClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    code = f"store-{uuid.uuid4().hex[:8]}"
    secret = await make_key(Role.MARKETER)
    async with console_client(app) as console:
        assert (await sign_in(console, secret)).status_code == 303
        page = await console.get("/console/sources")
        assert page.status_code == 200
        token = csrf(page.text)
        made = await console.post("/console/sources", data={"csrf_token": token, "code": code, "label": "Shanghai 1"})
        assert made.status_code == 303, made.text
        twice = await console.post("/console/sources", data={"csrf_token": token, "code": code, "label": "Again"})
        assert twice.status_code == 409
        bad = await console.post("/console/sources", data={"csrf_token": token, "code": "No Spaces", "label": "x"})
        assert bad.status_code == 422
        assert (await _join(http, code, email=_email())).status_code == 303
        listed = await console.get("/console/sources")
        row = listed.text.split(f'data-source="{code}"', 1)[1].split("</tr>", 1)[0]
        assert f"http://memberflow.test/portal/join?src={code}" in row
        assert '<td class="num signups">1</td>' in row
        svg = await console.get(f"/console/sources/{code}/qr.svg")
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in svg.content
        png = await console.get(f"/console/sources/{code}/qr.png")
        assert png.content.startswith(b"\x89PNG")
        assert (await console.get("/console/sources/nope-nope/qr.png")).status_code == 404
        assert (await console.get(f"/console/sources/{code}/qr.gif")).status_code == 404
    async with sessions() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "portal_source.create", AuditEntry.target_id == code)
        )
    assert audited == 1
