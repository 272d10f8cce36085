"""The rows an import accepts (members, orders, behaviour events) and how a CSV or JSONL record becomes one.

CSV cells are text: empty cells are absent, `tags` and list values are separated by `|`, `attributes` and
`items`/`properties` are JSON. JSONL lines are JSON objects with the same keys. A record that does not fit
gives one (line, field, reason) per problem, and the rest of the file goes on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from core.timeutil import utc_past
from services.intake.events import EventType
from services.intake.orders import Currency, OrderItem
from services.loyalty.money import Money
from services.members import ExternalId, MemberProfile, Tag

Past = Annotated[datetime, AfterValidator(utc_past)]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,64}$")]
MAX_JSON_CELL = 8 * 1024


class Kind(StrEnum):
    MEMBERS = "members"
    ORDERS = "orders"
    EVENTS = "events"


STAGES = {Kind.MEMBERS: 0, Kind.ORDERS: 1, Kind.EVENTS: 2}


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class MemberRow(MemberProfile):
    """A member's profile as the API's sign-up checks it, plus when they joined and consent as flat columns."""

    joined_at: Past | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)
    consent_email: bool = False
    consent_email_at: Past | None = None
    consent_email_source: Annotated[str, StringConstraints(max_length=100)] | None = None
    consent_sms: bool = False
    consent_sms_at: Past | None = None
    consent_sms_source: Annotated[str, StringConstraints(max_length=100)] | None = None


class OrderRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    member_external_id: ExternalId
    source: Source = "default"
    amount: Money
    currency: Currency
    status: Literal["completed"] = "completed"
    placed_at: Past
    items: list[OrderItem] = Field(default_factory=list, max_length=500)


class EventRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    member_external_id: ExternalId
    type: EventType
    occurred_at: Past
    properties: dict[str, Any] = Field(default_factory=dict)


MODELS: dict[Kind, type[BaseModel]] = {Kind.MEMBERS: MemberRow, Kind.ORDERS: OrderRow, Kind.EVENTS: EventRow}
# Cells that hold JSON in a CSV file, and cells that hold a `|`-separated list.
_JSON_CELLS = {"attributes", "items", "properties"}
_LIST_CELLS = {"tags"}


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class RecordError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def csv_record(header: list[str], cells: list[str]) -> dict[str, Any]:
    """A CSV record as the row's keys: empty cells left out, JSON and list cells decoded."""
    if len(cells) != len(header):
        raise RecordError("", f"has {len(cells)} cells where the header has {len(header)}")
    record: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=True):
        if cell == "":
            continue
        if name in _JSON_CELLS:
            if len(cell) > MAX_JSON_CELL:
                raise RecordError(name, f"is longer than {MAX_JSON_CELL} characters")
            try:
                record[name] = json.loads(cell)
            except ValueError:
                raise RecordError(name, "is not valid JSON") from None
        elif name in _LIST_CELLS:
            record[name] = [part.strip() for part in cell.split("|") if part.strip()]
        else:
            record[name] = cell
    return record


def jsonl_record(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        raise RecordError("", "is not valid JSON") from None
    if not isinstance(value, dict):
        raise RecordError("", "is not a JSON object")
    return value


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


def validate(kind: Kind, line: int, record: dict[str, Any]) -> BaseModel | list[BadRow]:
    """The row, or every problem with it (one per field)."""
    if kind == Kind.ORDERS and "order_id" not in record and "external_id" in record:
        record = {**record, "order_id": record.pop("external_id")}
    try:
        return MODELS[kind].model_validate(record)
    except ValidationError as exc:
        return [BadRow(line, _field(error["loc"]), error["msg"]) for error in exc.errors()]
