"""The member's profile form, built from the custom member fields (services.members.fields), and the one-time
profile-completion award.

A form posts each custom field as `a.{key}` (a multi select once per checked option) and, while the member has
none, `name` and `birthday`. The values become a `MemberUpdate`, the same model and the same service as the
API's PATCH, so the portal accepts exactly what the API accepts; every problem comes back by field. Once every
required field, the name and the birthday are filled, a `profile_completed` event goes through the intake
with an event id of the member's: the built-in `award_profile_completed` rule pays its points once (its
ledger key is the member's, `award:profile_completed:{member}`), however often the member saves again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from models import Member, MemberField
from services import members
from services.intake import events
from services.members import fields as member_fields
from services.members.fields import ATTRIBUTES_FIELD, FieldType
from services.platform.audit import Actor

PREFIX = "a."
CONSENT_SOURCE = "portal"


@dataclass(frozen=True)
class FieldView:
    """One input of the form: what it asks, how, and what it holds now."""

    key: str  # the form name: `name`, `birthday` or `a.{field key}`
    label_en: str
    label_zh: str
    type: str  # a FieldType, or `name` / `birthday`
    options: list[str]
    required: bool
    value: str
    chosen: list[str]  # a multi select's checked options


class FormInvalid(Exception):
    """The form's values do not pass the member model: a message per form name."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None or isinstance(value, list) else str(value)


def custom_view(field: MemberField, value: Any) -> FieldView:
    return FieldView(
        key=PREFIX + field.key,
        label_en=field.label_en,
        label_zh=field.label_zh_cn,
        type=field.type,
        options=list(field.options),
        required=field.required,
        value=_shown(value),
        chosen=list(value) if isinstance(value, list) else [],
    )


async def form(session: AsyncSession, member: Member) -> list[FieldView]:
    """The profile's inputs: name and birthday while the member has none, then every custom field."""
    views = []
    if not member.name:
        views.append(FieldView("name", "Name", "姓名", "name", [], True, "", []))
    if member.birthday is None:
        views.append(FieldView("birthday", "Birthday", "生日", "birthday", [], True, "", []))
    attributes = member.attributes or {}
    views += [custom_view(field, attributes.get(field.key)) for field in await member_fields.list_fields(session)]
    return views


async def required_fields(session: AsyncSession) -> list[FieldView]:
    """The required custom fields, empty: what a sign-up must bring (services.portal.join)."""
    return [custom_view(field, None) for field in await member_fields.list_fields(session) if field.required]


def _typed(field: MemberField, raw: list[str]) -> Any:
    """A posted value in the type the member model checks; None for an empty input."""
    if field.type == FieldType.MULTI_SELECT:
        chosen = [value for value in raw if value]
        return chosen or None
    text = raw[0].strip() if raw else ""
    if not text:
        return None
    if field.type == FieldType.BOOLEAN:
        return {"true": True, "false": False}.get(text, text)
    return text


async def attributes_from(
    session: AsyncSession, posted: dict[str, list[str]], current: dict[str, Any]
) -> dict[str, Any]:
    """The custom field values a form changes: a filled input sets its field, an emptied one removes a value
    the member had (which the model refuses for a required field); a field the form does not post at all (an
    unanswered yes/no, a field defined after the page was shown) changes nothing. A multi select posts an empty
    value before its checkboxes, so unticking every option removes its value."""
    changes: dict[str, Any] = {}
    for field in await member_fields.list_fields(session):
        if PREFIX + field.key not in posted:
            continue
        value = _typed(field, posted[PREFIX + field.key])
        if value is not None:
            changes[field.key] = value
        elif field.key in current:
            changes[field.key] = None
    return changes


REQUIRED = "required"
INVALID = "invalid"


def problems_of(exc: ValidationError | InvalidInput) -> dict[str, str]:
    """What is wrong, by form name (`body.attributes.x` and `attributes.x` are `a.x`): REQUIRED for a missing
    value, INVALID for one the model refuses. The page words it for the field's type, in the member's language
    (the model's own messages are written for API clients)."""
    found: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            name = PREFIX + loc[1] if loc[:1] == ["attributes"] and len(loc) > 1 else (loc[0] if loc else "form")
            found.setdefault(name, REQUIRED if error["type"] == "missing" else INVALID)
        return found
    for detail in exc.details if isinstance(exc.details, list) else []:
        where = str(detail.get("field", "form"))
        name = PREFIX + where.removeprefix(ATTRIBUTES_FIELD + ".") if where.startswith(ATTRIBUTES_FIELD) else where
        found.setdefault(name, REQUIRED if detail.get("type") == "missing" else INVALID)
    return found or {"form": INVALID}


@dataclass(frozen=True)
class Saved:
    member: Member
    complete: bool
    points: int  # profile-completion points awarded by this save (0 when paid before, or not complete)


async def save(
    session: AsyncSession,
    member_id: uuid.UUID,
    posted: dict[str, list[str]],
    *,
    now: datetime,
    task_queue: str,
) -> Saved:
    """Validate and store the form; FormInvalid (nothing changed) with every problem by form name."""
    member = await members.get_active(session, member_id)
    body: dict[str, Any] = {"attributes": await attributes_from(session, posted, member.attributes or {})}
    for name in ("name", "birthday"):
        given = (posted.get(name) or [""])[0].strip()
        if given and getattr(member, name) in (None, ""):
            body[name] = given
    if body != {"attributes": {}}:  # an unchanged form writes (and audits) nothing
        try:
            update = members.MemberUpdate.model_validate(body)
            actor = Actor.member(member_id)
            member = await members.update(session, member_id, update, source=CONSENT_SOURCE, actor=actor)
        except ValidationError as exc:
            # The model stops before the custom fields are checked: check them too, to report all at once.
            raise FormInvalid(problems_of(exc) | await _attribute_problems(session, member, body)) from exc
        except InvalidInput as exc:
            raise FormInvalid(problems_of(exc)) from exc
    complete = await is_complete(session, member)
    points = await _award(session, member_id, now=now, task_queue=task_queue) if complete else 0
    return Saved(member, complete, points)


async def _attribute_problems(session: AsyncSession, member: Member, body: dict[str, Any]) -> dict[str, str]:
    try:
        await member_fields.merged_attributes(session, member.attributes or {}, body["attributes"], creating=False)
    except InvalidInput as exc:
        return problems_of(exc)
    return {}


async def is_complete(session: AsyncSession, member: Member) -> bool:
    if not member.name or member.birthday is None:
        return False
    attributes = member.attributes or {}
    return all(field.key in attributes for field in await member_fields.list_fields(session) if field.required)


async def _award(session: AsyncSession, member_id: uuid.UUID, *, now: datetime, task_queue: str) -> int:
    outcome = await events.ingest(
        session,
        events.EventCreate(
            member_id=member_id,
            type=events.EventType.PROFILE_COMPLETED,
            occurred_at=now,
            properties={"channel": "portal"},
            event_id=f"portal-profile-completed:{member_id}",
        ),
        task_queue=task_queue,
    )
    return outcome.points_awarded
