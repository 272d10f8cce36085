"""Opening a ticket from the console's New ticket form (ops): the form from the member 360 page with the member
filled in and each priority's SLA, a ticket opened for a member found by email, audited once as `ticket.open`
with its workflow start in the outbox; refused input (unknown, ambiguous or missing member, a bad category,
channel, queue or subject) re-renders the form with the message at its input and what was typed, and writes
nothing; a form without its CSRF token and a role that does not work tickets are refused."""

from __future__ import annotations

import html
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from models import AuditEntry, TemporalOutbox, Ticket
from services.platform.api_keys import Role
from tests.support.console import Sessions, console_client, csrf, sign_in
from tests.support.helpers import ApiClient, KeyMaker, create_member
from tests.support.tickets import new_queue
from workflows import contracts


async def _signed_in(client: httpx.AsyncClient, make_key: KeyMaker, role: Role = Role.OPS) -> str:
    secret = await make_key(role)
    assert (await sign_in(client, secret)).status_code == 303
    page = await client.get("/console/tickets/new")
    return csrf(page.text) if page.status_code == 200 else ""


def _form(token: str, member: str, queue: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "member": member,
        "channel": "phone",
        "category": "delivery",
        "priority": "high",
        "queue": queue,
        "subject": "Tea tin dented in transit",
        "description": "Called the hotline: the lid of the oolong tin does not close.",
        **overrides,
    }


async def _tickets_of(sessions: Sessions, member_id: str) -> list[Ticket]:
    async with sessions() as session:
        stmt = select(Ticket).where(Ticket.member_id == uuid.UUID(member_id))
        return list((await session.execute(stmt)).scalars())


async def _entries_by(sessions: Sessions, actor: str) -> list[AuditEntry]:
    async with sessions() as session:
        stmt = select(AuditEntry).where(AuditEntry.actor == actor).order_by(AuditEntry.id)
        return list((await session.execute(stmt)).scalars())


def _error_at(page: str, name: str) -> str:
    start = page.index(f'id="err-{name}">') + len(f'id="err-{name}">')
    return html.unescape(page[start : page.index("</span>", start)])


def _value_of(page: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    return html.unescape(page[start : page.index('"', start)])


async def test_the_member_360_link_fills_in_the_member_and_each_priority_shows_its_sla(
    app: FastAPI, shop: ApiClient, make_key: KeyMaker
) -> None:
    member = await create_member(shop, name="Zhao Lei")
    async with console_client(app) as client:
        await _signed_in(client, make_key)
        member_page = await client.get(f"/console/members/{member['id']}")
        assert f'href="/console/tickets/new?member={member["id"]}"' in member_page.text
        form = await client.get(f"/console/tickets/new?member={member['id']}")
    assert form.status_code == 200
    assert _value_of(form.text, "member") == member["external_id"]
    for label in (
        "urgent: first reply within 1 h, resolved within 4 h",
        "high: first reply within 4 h, resolved within 24 h",
        "normal: first reply within 24 h, resolved within 3 days",
        "low: first reply within 2 days, resolved within 5 days",
    ):
        assert label in form.text
    assert '<option value="phone" selected>' in form.text


async def test_a_ticket_opened_for_a_member_found_by_email_is_audited_once(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop, email=f"Li.Na.{uuid.uuid4().hex[:6]}@Example.com")
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        answer = await client.post(
            "/console/tickets/new", data=_form(token, f"  {member['email'].lower()} ", queue["code"])
        )
        assert answer.status_code == 303, answer.text
        [ticket] = await _tickets_of(sessions, member["id"])
        assert httpx.URL(answer.headers["location"]).path == f"/console/tickets/{ticket.id}"
        page = await client.get(answer.headers["location"])
    assert "opened; the member is sent a confirmation with its SLA" in page.text
    assert (ticket.channel, ticket.category, ticket.priority, ticket.subject) == (
        "phone",
        "delivery",
        "high",
        "Tea tin dented in transit",
    )
    assert ticket.resolution_due_at - ticket.opened_at == (ticket.first_response_due_at - ticket.opened_at) * 6
    entries = await _entries_by(sessions, ticket.opened_by)
    assert [(e.action, e.target_id, e.details["via"]) for e in entries] == [("ticket.open", str(ticket.id), "console")]
    async with sessions() as session:
        stmt = select(func.count()).where(TemporalOutbox.workflow_id == contracts.ticket_workflow_id(ticket.id))
        assert (await session.execute(stmt)).scalar_one() == 1


REFUSED: dict[str, tuple[dict[str, str], str, str]] = {
    "no member": ({"member": "  "}, "member", "Enter the member's external id or email."),
    "unknown member": ({"member": "cust-nobody-here"}, "member", "No member has that external id or email."),
    "bad category": ({"category": "Late Delivery!"}, "category", "Use lower-case letters, digits, - or _"),
    "unknown channel": ({"channel": "fax"}, "channel", "Choose a channel from the list."),
    "unknown priority": ({"priority": "whenever"}, "priority", "Choose a priority from the list."),
    "subject too long": ({"subject": "x" * 201}, "subject", "Enter a subject of at most 200 characters."),
    "blank description": ({"description": "   "}, "description", "Describe the request in at most 5,000 characters."),
    "unknown queue": ({"queue": "no-such-queue"}, "queue", "no queue has the code 'no-such-queue'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_refused_input_re_renders_the_form_with_what_was_typed_and_writes_nothing(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions, case: str
) -> None:
    overrides, field, message = REFUSED[case]
    queue = await new_queue(admin)
    member = await create_member(shop)
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        sent = {**_form(token, member["external_id"], queue["code"]), **overrides}
        answer = await client.post("/console/tickets/new", data=sent)
    assert answer.status_code == 422, answer.text
    assert _error_at(answer.text, field).startswith(message)
    assert f'aria-invalid="true" aria-describedby="err-{field}"' in answer.text
    if field not in ("channel", "priority", "queue", "description"):
        assert _value_of(answer.text, field) == sent[field]
    assert "Called the hotline" in answer.text or field == "description"
    assert await _tickets_of(sessions, member["id"]) == []
    async with sessions() as session:
        stmt = select(func.count()).where(
            AuditEntry.action == "ticket.open", AuditEntry.details["member_id"].astext == member["id"]
        )
        assert (await session.execute(stmt)).scalar_one() == 0


async def test_an_email_two_members_share_asks_for_the_external_id(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    queue = await new_queue(admin)
    shared = f"family-{uuid.uuid4().hex[:8]}@example.com"
    first, second = await create_member(shop, email=shared), await create_member(shop, email=shared)
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        answer = await client.post("/console/tickets/new", data=_form(token, shared, queue["code"]))
        assert answer.status_code == 422
        assert _error_at(answer.text, "member") == (
            "Several members share that email: enter the member's external id instead."
        )
        chosen = await client.post("/console/tickets/new", data=_form(token, second["external_id"], queue["code"]))
    assert chosen.status_code == 303
    assert await _tickets_of(sessions, first["id"]) == []
    assert len(await _tickets_of(sessions, second["id"])) == 1


async def test_a_form_without_its_token_and_a_role_without_tickets_are_refused(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop)
    async with console_client(app) as client:
        await _signed_in(client, make_key)
        forged = await client.post("/console/tickets/new", data=_form("forged", member["external_id"], queue["code"]))
    assert forged.status_code == 403
    async with console_client(app) as client:
        await _signed_in(client, make_key, Role.MARKETER)
        assert (await client.get("/console/tickets/new")).status_code == 403
        member_page = await client.get(f"/console/members/{member['id']}")
        assert "/console/tickets/new" not in member_page.text
        refused = await client.post("/console/tickets/new", data=_form("x", member["external_id"], queue["code"]))
    assert refused.status_code == 403
    assert await _tickets_of(sessions, member["id"]) == []


async def test_an_erased_member_gets_no_ticket(
    app: FastAPI, shop: ApiClient, admin: ApiClient, make_key: KeyMaker, sessions: Sessions
) -> None:
    queue = await new_queue(admin)
    member = await create_member(shop)
    erased = await admin.request("DELETE", f"/api/v1/members/{member['id']}", json={"reason": "asked at the till"})
    assert erased.status_code == 200, erased.text
    async with console_client(app) as client:
        token = await _signed_in(client, make_key)
        by_old_id = await client.post("/console/tickets/new", data=_form(token, member["external_id"], queue["code"]))
        form = await client.get(f"/console/tickets/new?member={member['id']}")  # the 360 page's link
        pseudonym = _value_of(form.text, "member")
        by_link = await client.post("/console/tickets/new", data=_form(token, pseudonym, queue["code"]))
    assert by_old_id.status_code == 422
    assert _error_at(by_old_id.text, "member") == "No member has that external id or email."
    assert pseudonym != member["external_id"]
    assert by_link.status_code == 409
    assert "was erased" in _error_at(by_link.text, "member")
    assert await _tickets_of(sessions, member["id"]) == []
