"""Custom member fields: the definitions an admin makes, and the validation of `members.attributes` against them.

Values are stored in a canonical form: text and single-select values as strings, dates as ISO `YYYY-MM-DD`
strings, booleans as JSON booleans, multi-select values as a list in the order the field offers its options,
and numbers as JSON numbers whose text is the exact decimal (at most 15 significant digits, so `19.99` is
stored and read back as `19.99`, never as a binary approximation; segments compare them as numbers)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator
from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import Member, MemberField
from services.definitions import Name
from services.platform import audit
from services.platform.audit import Actor

MAX_OPTIONS = 100
MAX_TEXT = 1000
MAX_DIGITS = 15  # what a JSON number keeps exactly through a float on every client
ATTRIBUTES_FIELD = "body.attributes"


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    SINGLE_SELECT = "single_select"
    MULTI_SELECT = "multi_select"


SELECT_TYPES = frozenset({FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT})

FieldKey = Name
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Labels(BaseModel):
    """The field's name as the console and forms show it, in English and Chinese."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    en: Label
    zh_cn: Label = Field(alias="zh-CN")


def _check_options(field_type: FieldType | None, options: list[str] | None) -> None:
    if options is not None and len(set(options)) != len(options):
        raise ValueError("options must be distinct")
    if field_type is None:
        return
    if field_type in SELECT_TYPES and not options:
        raise ValueError(f"a {field_type} field needs at least one option")
    if field_type not in SELECT_TYPES and options:
        raise ValueError(f"only single_select and multi_select fields take options, not {field_type}")


class FieldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: FieldKey = Field(description="The key in `attributes`: lower case, digits and underscores")
    labels: Labels
    type: FieldType
    options: list[Option] = Field(default_factory=list, max_length=MAX_OPTIONS)
    required: StrictBool = False
    # Unset: personal for a text field (free text about a person usually is), not for the other types.
    personal_data: StrictBool | None = None

    @model_validator(mode="after")
    def _options(self) -> FieldCreate:
        _check_options(self.type, self.options)
        return self


class FieldUpdate(BaseModel):
    """Only the settings present change; the key never does. `options` replaces the whole list."""

    model_config = ConfigDict(extra="forbid")

    labels: Labels | None = None
    type: FieldType | None = None
    options: list[Option] | None = Field(default=None, max_length=MAX_OPTIONS)
    required: StrictBool | None = None
    personal_data: StrictBool | None = None

    @model_validator(mode="after")
    def _options(self) -> FieldUpdate:
        _check_options(None, self.options)
        return self


# --- the definitions ---------------------------------------------------------------------------------------


async def list_fields(session: AsyncSession) -> list[MemberField]:
    """Every field, in the order they were defined."""
    stmt = select(MemberField).order_by(MemberField.created_at, MemberField.key)
    return list((await session.execute(stmt)).scalars().all())


async def get(session: AsyncSession, key: str, *, for_update: bool = False) -> MemberField:
    stmt = select(MemberField).where(MemberField.key == key)
    if for_update:
        stmt = stmt.with_for_update()
    field = (await session.execute(stmt)).scalar_one_or_none()
    if field is None:
        raise NotFound(f"member field {key!r} does not exist", code="member_field_not_found")
    return field


async def _audit(session: AsyncSession, actor: Actor, action: str, field: MemberField, details: dict[str, Any]) -> None:
    await audit.record(
        session,
        actor,
        action=f"member_field.{action}",
        target_type="member_field",
        target_id=str(field.id),
        details={"key": field.key, **details},
    )


def _settings(field: MemberField) -> dict[str, Any]:
    return {
        "labels": {"en": field.label_en, "zh-CN": field.label_zh_cn},
        "type": field.type,
        "options": list(field.options),
        "required": field.required,
        "personal_data": field.personal_data,
    }


async def create(session: AsyncSession, data: FieldCreate, *, actor: Actor) -> MemberField:
    field = MemberField(
        key=data.key,
        label_en=data.labels.en,
        label_zh_cn=data.labels.zh_cn,
        type=data.type.value,
        options=list(data.options),
        required=data.required,
        personal_data=data.type == FieldType.TEXT if data.personal_data is None else data.personal_data,
        created_by=actor.name,
    )
    try:
        async with session.begin_nested():
            session.add(field)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a member field with key {data.key!r} already exists",
            code="member_field_exists",
            details={"key": data.key},
        ) from exc
    await _audit(session, actor, "create", field, _settings(field))
    return field


async def holders(session: AsyncSession, key: str) -> int:
    """How many members hold a value for the field."""
    stmt = select(func.count()).select_from(Member).where(Member.attributes.has_key(key))
    return int((await session.execute(stmt)).scalar_one())


async def _option_holders(session: AsyncSession, field: MemberField, option: str) -> int:
    value: Any = [option] if field.type == FieldType.MULTI_SELECT else option
    stmt = select(func.count()).select_from(Member).where(Member.attributes.contains({field.key: value}))
    return int((await session.execute(stmt)).scalar_one())


async def update_field(session: AsyncSession, key: str, data: FieldUpdate, *, actor: Actor) -> MemberField:
    """Change a field's settings. Changing the type, or removing an option, that members hold values for is a
    409 naming how many members hold them: their values would no longer be valid."""
    field = await get(session, key, for_update=True)
    before = _settings(field)
    new_type = data.type if data.type is not None else FieldType(field.type)
    type_changes = new_type != field.type
    kept_options = list(field.options) if new_type in SELECT_TYPES else []
    options = list(data.options) if data.options is not None else kept_options
    try:
        _check_options(new_type, options)
    except ValueError as exc:
        raise InvalidInput(
            str(exc), details=[{"field": "body.options", "message": str(exc), "type": "value_error"}]
        ) from exc
    if type_changes:
        held = await holders(session, key)
        if held:
            raise Conflict(
                f"{held} member(s) hold a value for {key!r}; a field's type cannot change while members hold values"
                " (delete the field with force=true to remove them, or define a new field)",
                code="member_field_in_use",
                details={"key": key, "members": held},
            )
    else:
        for option in field.options:
            if option not in options:
                held = await _option_holders(session, field, option)
                if held:
                    raise Conflict(
                        f"{held} member(s) hold the option {option!r} of {key!r}; it cannot be removed while they do",
                        code="member_field_option_in_use",
                        details={"key": key, "option": option, "members": held},
                    )
    if data.labels is not None:
        field.label_en, field.label_zh_cn = data.labels.en, data.labels.zh_cn
    field.type = new_type.value
    field.options = options
    if data.required is not None:
        field.required = data.required
    if data.personal_data is not None:
        field.personal_data = data.personal_data
    await session.flush()
    after = _settings(field)
    changed = {name: after[name] for name in after if after[name] != before[name]}
    await _audit(session, actor, "update", field, {"changed": changed})
    await session.refresh(field)
    return field


async def delete_field(session: AsyncSession, key: str, *, force: bool, actor: Actor) -> int:
    """Delete a field. While members hold values for it this is a 409, unless `force`, which removes those values
    from the members too; returns how many members' values were removed."""
    field = await get(session, key, for_update=True)
    held = await holders(session, key)
    if held and not force:
        raise Conflict(
            f"{held} member(s) hold a value for {key!r}; delete with force=true to remove their values too",
            code="member_field_in_use",
            details={"key": key, "members": held},
        )
    cleared = 0
    if held:
        result = await session.execute(
            update(Member)
            .where(Member.attributes.has_key(key))
            .values(attributes=Member.attributes.op("-", return_type=JSONB)(key))
        )
        cleared = int(result.rowcount)  # type: ignore[attr-defined]
    await _audit(session, actor, "delete", field, {"force": force, "values_removed": cleared})
    await session.execute(delete(MemberField).where(MemberField.id == field.id))
    return cleared


# --- validating attributes ---------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("must be a string")
    if not value.strip():
        raise _Bad("must not be blank (send null to remove the value)")
    if len(value) > MAX_TEXT:
        raise _Bad(f"must be at most {MAX_TEXT} characters")
    if "\x00" in value:
        raise _Bad("may not contain NUL characters")
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad("must be a number (a JSON number or a decimal string such as '19.99')")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation as exc:
        raise _Bad("must be a number (a JSON number or a decimal string such as '19.99')") from exc
    if not number.is_finite():
        raise _Bad("must be a finite number")
    number = number.normalize() if number != 0 else Decimal(0)
    digits = len(number.as_tuple().digits)
    exponent = int(number.as_tuple().exponent)
    if max(digits, digits + exponent) > MAX_DIGITS:
        raise _Bad(f"must have at most {MAX_DIGITS} significant digits, so it is kept exactly")
    if exponent >= 0:
        return int(number)
    # At most 15 significant digits: the float's shortest text is exactly this decimal, so JSON keeps it.
    return float(number)


def _date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise _Bad("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise _Bad("must be a real date as YYYY-MM-DD") from exc


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def _single(value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _Bad(f"must be one of: {', '.join(options)}")
    return value


def _multi(value: Any, options: Sequence[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"must be a list of options from: {', '.join(options)}")
    if not value:
        raise _Bad("must name at least one option (send null to remove the value)")
    unknown = [item for item in value if item not in options]
    if unknown:
        raise _Bad(f"offers no option {unknown[0]!r}; the options are: {', '.join(options)}")
    return [option for option in options if option in value]


def canonical(field: MemberField, value: Any) -> Any:
    """The value in its stored form; a ValueError that says what is wrong otherwise."""
    try:
        match FieldType(field.type):
            case FieldType.TEXT:
                return _text(value)
            case FieldType.NUMBER:
                return _number(value)
            case FieldType.DATE:
                return _date(value)
            case FieldType.BOOLEAN:
                return _boolean(value)
            case FieldType.SINGLE_SELECT:
                return _single(value, field.options)
            case FieldType.MULTI_SELECT:
                return _multi(value, field.options)
    except _Bad as bad:
        raise ValueError(f"{field.key} ({field.type}) {bad.message}") from None


def _problem(key: str, message: str, kind: str) -> dict[str, str]:
    return {"field": f"{ATTRIBUTES_FIELD}.{key}", "message": message, "type": kind}


async def _definitions_for(session: AsyncSession, keys: list[str], *, creating: bool) -> dict[str, MemberField]:
    """The definitions a write needs: the fields it names, and on create the required ones. The named ones are
    locked FOR SHARE until the write commits, so a concurrent type change, option removal or delete (which lock
    the field FOR UPDATE and then count the values held) sees this member's value, and this write sees the
    field as that change left it."""
    wanted: ColumnElement[bool] = MemberField.key.in_(keys)
    if creating:
        wanted = or_(wanted, MemberField.required.is_(True))
    stmt = select(MemberField).where(wanted)
    if keys:
        stmt = stmt.with_for_update(read=True)
    return {field.key: field for field in (await session.execute(stmt)).scalars()}


async def merged_attributes(
    session: AsyncSession, current: Mapping[str, Any], given: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """The member's attributes after a write: `given` values checked against the definitions and put in their
    canonical form; a null removes a value. On create, every required field must have a value; a later write
    may not remove one (members who joined before a field was required keep joining without it).
    Every problem is reported at once, as a 422 naming `body.attributes.<key>`."""
    fields = await _definitions_for(session, list(given), creating=creating)
    result = dict(current)
    problems: list[dict[str, str]] = []
    for key, value in given.items():
        field = fields.get(key)
        if field is None:
            problems.append(_problem(key, f"there is no member field {key!r} (GET /api/v1/member-fields)", "unknown"))
        elif value is None:
            if field.required:
                problems.append(_problem(key, f"{key} is required and cannot be removed", "missing"))
            result.pop(key, None)
        else:
            try:
                result[key] = canonical(field, value)
            except ValueError as exc:
                problems.append(_problem(key, str(exc), "invalid"))
    if creating:
        for key, field in fields.items():
            if field.required and key not in given:
                problems.append(_problem(key, f"{key} is required", "missing"))
    if problems:
        fields_named = ", ".join(p["field"] for p in problems[:5])
        raise InvalidInput(f"the request is invalid: {fields_named}", code="validation_error", details=problems)
    return result
