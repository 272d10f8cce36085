"""Field-level protection by role: for every personal column of the inventory (services.members.personal_data)
that an API response or a console page carries, how each role sees it (full, masked or hidden), declared here
and nowhere else. tests/privacy/test_masking.py fails when a personal column has no decision, so a new one
cannot reach a response unmasked by accident.

A key's role gives its everyday view. Reading the real values is a permission of its own
(`api_keys.personal_data`) and an explicit act: a holder asks for `?unmasked=true` (the console's Reveal), and
the route writes one `personal_data.read` audit entry for it (docs/privacy.md says why it is not the default)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden
from models import MemberField
from services.platform import audit
from services.platform.api_keys import Role


class Shown(StrEnum):
    FULL = "full"
    MASKED = "masked"  # a recognisable part only (see the mask functions below)
    HIDDEN = "hidden"  # null in the API, "–" in the console


@dataclass(frozen=True)
class Decision:
    by_role: Mapping[Role, Shown]
    why: str


F, M, H = Shown.FULL, Shown.MASKED, Shown.HIDDEN


def _roles(admin: Shown, marketer: Shown, approver: Shown, ops: Shown, integration: Shown, why: str) -> Decision:
    return Decision(
        {
            Role.ADMIN: admin,
            Role.MARKETER: marketer,
            Role.APPROVER: approver,
            Role.OPS: ops,
            Role.INTEGRATION: integration,
        },
        why,
    )


_CONTACT = "memberflow sends every message itself, so no role needs the address to do its work"
_TICKET = "what the member asked for help with: whoever works the ticket (any staff role, the helpdesk) needs it"
_FEEDBACK = (
    "the member's own words about the brand: marketers and ops (who call detractors back) act on them; "
    "approvers and the shop have no use for them"
)
_CONSENT = "whether a message may be sent, and since when; tells nothing about who the person is"

# (table, column) of the inventory -> how each role sees it:  admin, marketer, approver, ops, integration.
FIELDS: dict[tuple[str, str], Decision] = {
    ("members", "name"): _roles(F, F, M, M, M, "marketers personalise campaigns and previews; others recognise"),
    ("members", "email"): _roles(M, M, M, M, M, _CONTACT),
    ("members", "phone"): _roles(M, M, M, M, M, _CONTACT),
    ("members", "birthday"): _roles(M, M, H, H, H, "the month drives birthday campaigns; day and year identify"),
    ("members", "attributes"): _roles(M, M, H, H, H, "custom fields marked personal; the others are always full"),
    ("members", "external_id"): _roles(F, F, F, F, F, "the brand's own key, which every caller matches records by"),
    ("members", "tags"): _roles(F, F, F, F, F, "labels staff set for segments and journeys"),
    ("members", "consent_email"): _roles(F, F, F, F, F, _CONSENT),
    ("members", "consent_sms"): _roles(F, F, F, F, F, _CONSENT),
    ("members", "consent_email_source"): _roles(F, F, F, F, F, _CONSENT),
    ("members", "consent_sms_source"): _roles(F, F, F, F, F, _CONSENT),
    ("members", "consent_email_at"): _roles(F, F, F, F, F, _CONSENT),
    ("members", "consent_sms_at"): _roles(F, F, F, F, F, _CONSENT),
    ("messages", "subject"): _roles(F, F, H, F, H, "a template's subject with at most the name in it"),
    ("messages", "body"): _roles(H, H, H, H, H, "the rendered text repeats the profile and holds the member's links"),
    ("messages", "reason"): _roles(M, M, H, M, H, "why a send failed, with any address in it masked"),
    ("staff_tasks", "title"): _roles(F, F, H, F, H, "the note is the task staff carry out"),
    ("approvals", "reason"): _roles(F, H, F, F, H, "approvers' own notes, read by approvers and auditors"),
    ("ledger_transactions", "reason"): _roles(F, F, F, F, F, "why points moved; staff notes are for staff"),
    ("audit_log", "details"): _roles(F, H, H, F, H, "the audit log is for admins and ops, who account for it"),
    ("tickets", "subject"): _roles(F, F, F, F, F, _TICKET),
    ("tickets", "description"): _roles(F, F, F, F, F, _TICKET),
    ("ticket_events", "body"): _roles(F, F, F, F, F, _TICKET),
    ("survey_answers", "comment"): _roles(F, F, H, F, H, _FEEDBACK),
    ("survey_answers", "answers"): _roles(F, F, H, F, H, _FEEDBACK),
    ("referral_codes", "referral_code"): _roles(
        F, F, F, F, F, "a code the member hands out to friends, made to be shown"
    ),
}

# Personal columns that no response or page carries, with where that is kept true.
NOT_SHOWN: dict[tuple[str, str], str] = {
    ("member_events", "properties"): "no response returns event properties; they feed rules and journeys only",
    ("redemptions", "reason"): "RedemptionOut and the inbox leave it out",
    ("redemptions", "tracking_number"): "taken in by the shipped update, never returned",
    ("idempotency_records", "response_body"): "a replay returns the caller's own answer, masked when first given",
    ("import_chunks", "body"): "uploaded records are never served back; import errors name lines and fields",
    ("portal_sign_in_codes", "address_hash"): "a keyed hash to limit code requests; no response or page shows it",
    ("portal_sign_in_codes", "source_hash"): "a keyed hash to limit code requests; no response or page shows it",
    ("portal_sessions", "token_hash"): "the hash of the member's session cookie; never shown",
    ("referrals", "email_digest"): "a keyed hash that refuses a reused address; never shown",
    ("referrals", "phone_digest"): "a keyed hash that refuses a reused phone; never shown",
}


@dataclass(frozen=True)
class View:
    """How one caller sees personal fields: their role's view, or everything when they revealed it."""

    role: Role
    unmasked: bool = False

    def shown(self, table: str, column: str) -> Shown:
        if self.unmasked:
            return Shown.FULL
        return FIELDS[(table, column)].by_role[self.role]

    def apply(self, table: str, column: str, value: Any) -> Any:
        """`value` of `table.column` as this view shows it."""
        return show(self.shown(table, column), column, value)


def view_for(role: str, *, holds_permission: bool, unmasked: bool) -> View:
    """The caller's view; asking for unmasked values without the permission is a 403 that reads nothing."""
    if unmasked and not holds_permission:
        raise Forbidden(
            "reading unmasked personal data needs a key with the personal_data permission",
            code="personal_data_not_permitted",
            details={"role": role},
        )
    return View(Role(role), unmasked=unmasked)


# --- masks ----------------------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\D")


def mask_phone(phone: str) -> str:
    """`+8613800000000` -> `138****0000`: the first 3 and last 4 digits of the national number."""
    digits = _DIGITS.sub("", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(email: str) -> str:
    """`li.lei@example.com` -> `l***@example.com`."""
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_name(name: str) -> str:
    """`Wang Fang` -> `W*`, `王芳` -> `王*`: the first character."""
    return f"{name.strip()[:1]}*"


def mask_birthday(birthday: date | str) -> str:
    """`1990-05-17` -> `--05` (ISO 8601's month without year and day)."""
    text = birthday.isoformat() if isinstance(birthday, date) else str(birthday)
    return f"--{text[5:7]}"


_EMAILS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_PHONES = re.compile(r"\+?\d[\d ()-]{5,}\d")


def mask_contacts(text: str) -> str:
    """Free text (a provider's refusal) with every email address and phone number in it masked."""
    return _PHONES.sub(lambda m: mask_phone(m.group()), _EMAILS.sub(lambda m: mask_email(m.group()), text))


def mask_text(value: Any) -> Any:
    """A personal custom field: text keeps its first character; other values are hidden."""
    if isinstance(value, str) and value:
        return f"{value[:1]}***"
    return None


_MASKS: dict[str, Callable[[Any], Any]] = {
    "name": mask_name,
    "email": mask_email,
    "phone": mask_phone,
    "birthday": mask_birthday,
    "reason": mask_contacts,
}


def show(shown: Shown, column: str, value: Any) -> Any:
    if value is None or shown is Shown.FULL:
        return value
    if shown is Shown.HIDDEN:
        return None
    mask = _MASKS.get(column, mask_text)
    return mask(value)


def attributes(view: View, values: Mapping[str, Any], open_keys: Iterable[str]) -> dict[str, Any]:
    """Custom field values: fields not marked personal (`open_keys`) as they are; the rest, including keys no
    field defines (erasure treats those as personal too), as the view shows personal custom fields."""
    shown = view.shown("members", "attributes")
    if shown is Shown.FULL:
        return dict(values)
    open_set = set(open_keys)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in open_set:
            out[key] = value
        elif shown is Shown.MASKED:
            out[key] = mask_text(value)
    return out


PROFILE = ("name", "email", "phone", "birthday")


def template_variables(view: View, variables: dict[str, Any], open_keys: Iterable[str]) -> dict[str, Any]:
    """What a template preview renders with, as `view` shows the member: templates see the name and the custom
    fields (services.messaging.templates.template_variables), so those are masked; "" stands for a hidden value."""
    if view.unmasked:
        return variables
    member = {**variables["member"], "name": view.apply("members", "name", variables["member"].get("name"))}
    held = vars(variables["attributes"])  # a namespace, so a field called `items` stays a field
    shown = attributes(view, held, open_keys)
    values = {key: "" if shown.get(key) is None else shown[key] for key in held}
    return {**variables, "member": member, "attributes": SimpleNamespace(**values)}


def member_document(view: View, doc: dict[str, Any], open_keys: Iterable[str]) -> dict[str, Any]:
    """A member as the API writes it (MemberOut's keys, or the 360's), masked in place and returned."""
    if view.unmasked:
        return doc
    for column in PROFILE:
        doc[column] = view.apply("members", column, doc.get(column))
    doc["attributes"] = attributes(view, doc.get("attributes") or {}, open_keys)
    if view.shown("messages", "reason") is not Shown.FULL:
        for message in doc.get("recent_messages", ()):
            message["reason"] = view.apply("messages", "reason", message.get("reason"))
    return doc


async def open_keys(session: AsyncSession, view: View, values: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The custom fields not marked personal, read only when the view masks some and a member (`values`: each
    member's custom field values) has any."""
    if view.shown("members", "attributes") is Shown.FULL or not any(values):
        return []
    return list((await session.execute(select(MemberField.key).where(MemberField.personal_data.is_(False)))).scalars())


READ_ACTION = "personal_data.read"


async def record_read(
    session: AsyncSession, actor: audit.Actor, *, member_ids: Iterable[uuid.UUID | str], route: str
) -> None:
    """One audit entry for one revealed answer: the member it showed, or for a list the ids it showed (target
    `member_list`, the route), so "who saw this person" is one filter on the log. Nothing shown, nothing written."""
    ids = list(dict.fromkeys(str(i) for i in member_ids))
    if not ids:
        return
    single = len(ids) == 1
    await audit.record(
        session,
        actor,
        action=READ_ACTION,
        target_type="member" if single else "member_list",
        target_id=ids[0] if single else route[:64],
        details={"route": route, "member_ids": ids},
    )
