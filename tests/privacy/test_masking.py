"""Field-level protection by role (services.privacy.masking): every personal column has a declared view, every
response schema that carries one is classified, the masks are exact, and the same member read by each role
through the API and the console shows exactly its role's view. A holder of `personal_data` who reveals writes one
audit entry per answer; masked reads write none, and a reveal without the permission is a 403 that reads nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Message, StaffTask
from services.members.personal_data import personal_columns
from services.platform.api_keys import Role
from services.privacy import masking
from services.privacy.masking import FIELDS, NOT_SHOWN
from tests.support.console import console_client, sign_in
from tests.support.fields import define_field
from tests.support.helpers import ApiClient, KeyMaker, assert_error, create_member

Sessions = async_sessionmaker[AsyncSession]

PHONE, EMAIL, NAME = "+8613800000000", "li.lei@example.com", "Li Lei"

# What each role's answer shows of the member above (birthday 1990-05-17, a personal text field "Jing'an").
EXPECTED: dict[Role, dict[str, Any]] = {
    Role.ADMIN: {"name": NAME, "email": "l***@example.com", "phone": "138****0000", "birthday": "--05", "note": "J***"},
    Role.MARKETER: {
        "name": NAME,
        "email": "l***@example.com",
        "phone": "138****0000",
        "birthday": "--05",
        "note": "J***",
    },
    Role.APPROVER: {"name": "L*", "email": "l***@example.com", "phone": "138****0000", "birthday": None, "note": None},
    Role.OPS: {"name": "L*", "email": "l***@example.com", "phone": "138****0000", "birthday": None, "note": None},
    Role.INTEGRATION: {
        "name": "L*",
        "email": "l***@example.com",
        "phone": "138****0000",
        "birthday": None,
        "note": None,
    },
}
REVEALED = {"name": NAME, "email": EMAIL, "phone": "+8613800000000", "birthday": "1990-05-17", "note": "Jing'an"}

# Response-schema properties named like a personal column: which column they carry, or why they carry none.
CARRIES = {
    **{(s, c): ("members", c) for s in ("MemberOut", "Member360Out") for c in masking.PROFILE},
    **{(s, c): ("members", c) for s in ("MemberOut", "Member360Out") for c in ("external_id", "tags", "attributes")},
    ("PreviewMemberOut", "external_id"): ("members", "external_id"),
    ("ConsentOut", "email"): ("members", "consent_email"),
    ("ApprovalOut", "reason"): ("approvals", "reason"),
    ("InboxItemOut", "reason"): ("approvals", "reason"),
    ("AuditOut", "details"): ("audit_log", "details"),
    ("LedgerLineOut", "reason"): ("ledger_transactions", "reason"),
    ("MessageOut", "subject"): ("messages", "subject"),
    ("MessageOut", "body"): ("messages", "body"),
    ("MessageOut", "reason"): ("messages", "reason"),
    ("MessageSummaryOut", "reason"): ("messages", "reason"),
    ("TaskOut", "title"): ("staff_tasks", "title"),
    **{(s, c): ("tickets", c) for s in ("TicketOut", "TicketDetailOut") for c in ("subject", "description")},
    ("TicketEventOut", "body"): ("ticket_events", "body"),
}
NOT_PERSONAL = {
    "name": {
        "CampaignOut",
        "CampaignDetailOut",
        "ImportFileOut",
        "JourneyOut",
        "JourneyDetailOut",
        "KeyOut",
        "KeyCreated",
        "OrderItem",
        "QueueOut",
        "RewardOut",
        "RuleOut",
        "RuleDetailOut",
        "SegmentOut",
        "TierOut",
        "VerdictOut",
        "api__schemas__coupons__TemplateOut",
    },  # names of staff keys, definitions, products, files
    # the shop's order, refund and checkout numbers
    "external_id": {"OrderOut", "RefundOut", "CheckoutOut", "OpenCheckoutOut"},
    # the shop's refund reason code; why a rule would fire; why a quote allows no points (a fixed code);
    # why a tier changed (the system's text from tier names, the basis and amounts)
    "reason": {"RefundOut", "VerdictOut", "QuoteOut", "TierChangeOut"},
    "subject": {"api__schemas__messages__TemplateOut"},
    # a survey's, challenge's or badge's title in each language, written by staff
    "title": {"SurveyOut", "MemberChallengeOut", "BadgeOut"},
    "body": {"api__schemas__messages__TemplateOut"},
    "details": {"ErrorBody"},  # which fields of a request were wrong
    "description": {"RewardOut", "SegmentOut"},  # what a reward or a segment is, written by staff
    "answers": {"Nps", "Csat"},  # how many survey answers a score was computed over: a count
}
# A marketer's preview renders the template with the marketer's view of the member (name, custom fields).
RENDERED_WITH_VIEW = {("TemplatePreviewOut", "subject"), ("TemplatePreviewOut", "body")}


def test_every_personal_column_has_one_declared_treatment_for_every_role() -> None:
    personal = {(table, column) for table, column, _ in personal_columns()}
    assert personal - FIELDS.keys() - NOT_SHOWN.keys() == set(), "personal columns without a masking decision"
    assert (FIELDS.keys() | NOT_SHOWN.keys()) - personal == set(), "decisions for columns that are not personal"
    assert FIELDS.keys() & NOT_SHOWN.keys() == set()
    for column, decision in FIELDS.items():
        assert set(decision.by_role) == set(Role), column
        assert decision.why, column


def _response_schemas(doc: dict[str, Any]) -> set[str]:
    """Every component schema an answer of the API can contain, following references."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    walk(doc["components"]["schemas"][name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for operations in doc["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                walk(operation.get("responses", {}))
    return found


def test_every_response_property_named_like_a_personal_column_is_classified(app: FastAPI) -> None:
    doc = app.openapi()
    column_names = {column for _, column, _ in personal_columns()}
    unclassified = []
    for schema in sorted(_response_schemas(doc)):
        for prop in doc["components"]["schemas"][schema].get("properties", {}):
            if prop not in column_names:
                continue
            pair = (schema, prop)
            if pair in CARRIES:
                assert CARRIES[pair] in FIELDS, f"{pair} carries {CARRIES[pair]}, which has no masking decision"
            elif pair not in RENDERED_WITH_VIEW and schema not in NOT_PERSONAL.get(prop, set()):
                unclassified.append(pair)
    assert unclassified == [], "response properties that may carry personal data: classify them here and mask them"


@pytest.mark.parametrize(
    ("mask", "value", "shown"),
    [
        (masking.mask_phone, "+8613800000000", "138****0000"),
        (masking.mask_phone, "13812345678", "138****5678"),
        (masking.mask_phone, "+1 (415) 555-0100", "141****0100"),
        (masking.mask_phone, "12345", "*****"),
        (masking.mask_email, "li.lei@example.com", "l***@example.com"),
        (masking.mask_email, "not-an-address", "***"),
        (masking.mask_name, "王芳", "王*"),
        (masking.mask_name, " Li Lei", "L*"),
        (masking.mask_birthday, date(1990, 5, 17), "--05"),
        (masking.mask_birthday, "1990-11-02", "--11"),
        (masking.mask_text, "Jing'an", "J***"),
        (masking.mask_text, 38.5, None),
        (masking.mask_contacts, "550 <li.lei@example.com>: no such user", "550 <l***@example.com>: no such user"),
        (
            masking.mask_contacts,
            "number +86 138 0000 0000 refused (code 21614)",
            "number 138****0000 refused (code 21614)",
        ),
    ],
)
def test_the_masks(mask: Any, value: Any, shown: str | None) -> None:
    assert mask(value) == shown


@dataclass(frozen=True)
class Person:
    id: str
    external_id: str
    note_key: str  # a personal custom field
    plain_key: str  # a custom field not marked personal

    def profile(self, doc: dict[str, Any]) -> dict[str, Any]:
        """What a test compares: the profile fields and the personal custom field, as an answer shows them."""
        return {**{c: doc[c] for c in masking.PROFILE}, "note": doc["attributes"].get(self.note_key)}


async def _member(shop: ApiClient, admin: ApiClient, sessions: Sessions) -> Person:
    """A member with a personal and a plain custom field, a failed message and a staff task."""
    note = await define_field(admin, "text")
    plain = await define_field(admin, "text", personal_data=False)
    member = await create_member(
        shop, name=NAME, email=EMAIL, phone=PHONE, attributes={note["key"]: "Jing'an", plain["key"]: "tea"}
    )
    async with sessions() as session:
        session.add(
            Message(
                message_key=f"mask-{uuid.uuid4()}",
                member_id=uuid.UUID(member["id"]),
                channel="email",
                template="welcome",
                category="transactional",
                status="failed",
                subject=f"Welcome, {NAME}",
                body=f"<p>Hello {NAME}</p>",
                reason=f"550 mailbox {EMAIL} unavailable",
            )
        )
        session.add(StaffTask(member_id=uuid.UUID(member["id"]), title=f"Call {NAME}", assignee_role="ops"))
        await session.commit()
    return Person(member["id"], member["external_id"], note["key"], plain["key"])


async def _audit_count(sessions: Sessions) -> int:
    async with sessions() as session:
        count = (await session.execute(select(func.count()).where(AuditEntry.action == masking.READ_ACTION))).scalar()
        return int(count or 0)


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_reads_the_same_member_through_every_endpoint_as_declared(
    http: httpx.AsyncClient, make_key: KeyMaker, shop: ApiClient, admin: ApiClient, sessions: Sessions, role: Role
) -> None:
    person = await _member(shop, admin, sessions)
    member_id = person.id
    client = ApiClient(http, await make_key(role))
    before = await _audit_count(sessions)

    one = (await client.get(f"/api/v1/members/{member_id}")).json()
    assert person.profile(one) == EXPECTED[role]
    assert one["attributes"][person.plain_key] == "tea"  # not personal: every role sees it
    assert one["external_id"] == person.external_id
    listed = (await client.get("/api/v1/members", params={"query": person.external_id})).json()["items"]
    assert [person.profile(m) for m in listed] == [EXPECTED[role]]

    staff = role in (Role.ADMIN, Role.MARKETER, Role.OPS)
    messages = (await client.get("/api/v1/messages", params={"member_id": member_id})).json()["items"]
    assert [(m["subject"], m["body"], m["reason"]) for m in messages] == [
        (
            f"Welcome, {NAME}" if role is not Role.APPROVER and role is not Role.INTEGRATION else None,
            None,  # rendered bodies are hidden from every role's everyday view
            "550 mailbox l***@example.com unavailable" if staff else None,
        )
    ]
    assert one["recent_messages"][0]["reason"] == messages[0]["reason"]
    tasks = (await client.get("/api/v1/tasks", params={"member_id": member_id})).json()
    assert [t["title"] for t in tasks] == [f"Call {NAME}" if staff else None]
    assert await _audit_count(sessions) == before, "a masked read writes nothing"


async def test_a_holder_reveals_with_one_audit_entry_per_answer(
    admin: ApiClient, shop: ApiClient, sessions: Sessions, http: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    person = await _member(shop, admin, sessions)
    member_id = person.id
    one = await admin.get(f"/api/v1/members/{member_id}", params={"unmasked": "true"})
    assert person.profile(one.json()) == REVEALED
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.target_id == member_id, AuditEntry.action == masking.READ_ACTION
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.target_type, r.details["route"], r.details["member_ids"]) for r in rows] == [
        ("member", "/api/v1/members/{member_id}", [member_id])
    ]
    before = await _audit_count(sessions)
    listed = await admin.get("/api/v1/members", params={"query": person.external_id, "unmasked": "true"})
    assert [person.profile(m) for m in listed.json()["items"]] == [REVEALED]
    messages = await admin.get("/api/v1/messages", params={"member_id": member_id, "unmasked": "true"})
    assert messages.json()["items"][0]["body"] == f"<p>Hello {NAME}</p>"
    assert await _audit_count(sessions) == before + 2  # one per answer, not one per field or per member

    # A marketer granted the permission at creation reveals too; one without it gets 403 and nothing is written.
    created = await admin.post("/api/v1/keys", json={"name": "mask-granted", "role": "marketer", "personal_data": True})
    assert created.json()["personal_data"] is True
    granted = ApiClient(http, created.json()["key"])
    assert (await granted.get(f"/api/v1/members/{member_id}", params={"unmasked": "true"})).json()["email"] == EMAIL
    before = await _audit_count(sessions)
    for role in (Role.MARKETER, Role.APPROVER, Role.OPS, Role.INTEGRATION):
        other = ApiClient(http, await make_key(role))
        for url in (f"/api/v1/members/{member_id}", "/api/v1/members", "/api/v1/messages", "/api/v1/tasks"):
            assert_error(await other.get(url, params={"unmasked": "true"}), 403, "personal_data_not_permitted")
    assert await _audit_count(sessions) == before


async def test_keys_hold_the_permission_by_default_only_when_admin(admin: ApiClient) -> None:
    for role, expected in [("admin", True), ("marketer", False), ("approver", False), ("ops", False)]:
        created = await admin.post("/api/v1/keys", json={"name": f"mask-{role}", "role": role})
        assert created.status_code == 201, created.text
        assert created.json()["personal_data"] is expected
    refused = await admin.post("/api/v1/keys", json={"name": "mask-off", "role": "admin", "personal_data": False})
    assert refused.json()["personal_data"] is False
    listed = {k["name"]: k["personal_data"] for k in (await admin.get("/api/v1/keys")).json()}
    assert listed["mask-off"] is False
    assert listed["mask-admin"] is True


@pytest.mark.parametrize("role", [Role.MARKETER, Role.APPROVER, Role.OPS])
async def test_the_console_member_pages_show_the_roles_view(
    app: FastAPI, make_key: KeyMaker, shop: ApiClient, admin: ApiClient, sessions: Sessions, role: Role
) -> None:
    person = await _member(shop, admin, sessions)
    member_id = person.id
    async with console_client(app) as client:
        await sign_in(client, await make_key(role))
        page = (await client.get(f"/console/members/{member_id}")).text
        listing = (await client.get("/console/members", params={"q": person.external_id})).text
        refused = await client.get(f"/console/members/{member_id}", params={"unmasked": "true"})
    expected = EXPECTED[role]
    assert f"<dd>{expected['email']}</dd>" in page
    assert f"<dd>{expected['phone']}</dd>" in page
    assert EMAIL not in page
    assert PHONE not in page
    assert "1990-05-17" not in page
    assert 'id="reveal"' not in page
    assert f"{expected['name']}" in listing
    assert expected["email"] in listing
    assert EMAIL not in listing
    assert refused.status_code == 403
    assert EMAIL not in refused.text


async def test_the_console_reveal_of_a_holder_is_audited_once(
    app: FastAPI, make_key: KeyMaker, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    member_id = (await _member(shop, admin, sessions)).id
    before = await _audit_count(sessions)
    async with console_client(app) as client:
        await sign_in(client, await make_key(Role.ADMIN))
        masked = (await client.get(f"/console/members/{member_id}")).text
        assert EMAIL not in masked
        assert 'id="reveal"' in masked
        assert await _audit_count(sessions) == before
        revealed = (await client.get(f"/console/members/{member_id}", params={"unmasked": "true"})).text
    assert f"<dd>{EMAIL}</dd>" in revealed
    assert f"<dd>{PHONE}</dd>" in revealed
    assert 'id="revealed"' in revealed
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.action == masking.READ_ACTION, AuditEntry.target_id == member_id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.details["via"], r.details["route"]) for r in rows] == [("console", "/console/members/{member_id}")]


async def test_a_template_preview_renders_the_marketers_view_of_the_member(
    marketer: ApiClient, shop: ApiClient, admin: ApiClient, sessions: Sessions
) -> None:
    person = await _member(shop, admin, sessions)
    key = f"mask_{uuid.uuid4().hex[:8]}"
    text = f"{{{{ member.name }}}} | {{{{ attributes.{person.note_key} }}}} | {{{{ attributes.{person.plain_key} }}}}"
    put = await marketer.put(f"/api/v1/templates/{key}/sms/en", json={"body": text})
    assert put.status_code == 200, put.text
    body = {"template": key, "channel": "sms", "member_id": person.id, "category": "transactional"}
    preview = await marketer.post("/api/v1/templates/preview", json=body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["body"].startswith(f"{NAME} | J*** | tea")
