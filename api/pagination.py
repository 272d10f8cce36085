"""Cursor pagination at the API edge: one page type, one opaque cursor format, one helper that turns a service's
`limit + 1` keyset rows into a page.

A cursor is URL-safe base64 (no padding) of an 8-byte check digest followed by the compact JSON
`[version, scope, [keyset values...]]`. The scope names the list the cursor belongs to, so a cursor from one
endpoint is refused by another; the digest makes an edited cursor fail instead of paging from a made-up position;
the version lets the format change later while old cursors are still told apart. Services never see cursors: they
take `after=` the last row's sort key and return up to `limit` rows in their documented order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from core.errors import AppError

CURSOR_VERSION = 1
_DIGEST_SIZE = 8
# Not a secret: the digest catches cursors edited or corrupted on the way, it does not authorise anything (a cursor
# is only a position; the endpoint's own filters and roles still apply to whatever it pages to).
_DIGEST_KEY = b"memberflow.cursor"
MAX_CURSOR_LENGTH = 256

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")

CursorQuery = Annotated[
    str | None,
    # No max_length here: a cursor of any length that this API did not issue is the same 400 `invalid_cursor`.
    Query(description="`next_cursor` of the previous page; omit for the first page"),
]


class InvalidCursor(AppError):
    status_code = 400
    code = "invalid_cursor"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "cursor is not one this endpoint returned",
            details=[{"field": "query.cursor", "message": reason}],
        )


class Page(BaseModel, Generic[T]):
    """One page of a list, in the endpoint's documented order; `next_cursor` is null on the last page.

    Each list names its page by subclassing, `class MemberPage(Page[MemberOut])`, so the OpenAPI document shows
    `MemberPage` (pydantic would otherwise name the schema `Page_MemberOut_`)."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque: pass it back as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(
        cls, rows: Sequence[R], limit: int, cursor: Keyset[K], *, key: Callable[[R], K], item: Callable[[R], T]
    ) -> Self:
        """The page from a service's `limit + 1` rows, each shown as `item(row)`."""
        shown, next_cursor = cursor.take(rows, limit, key=key)
        return cls(items=[item(row) for row in shown], next_cursor=next_cursor)


def _digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_DIGEST_SIZE, key=_DIGEST_KEY).digest()


@dataclass(frozen=True)
class Keyset(Generic[K]):
    """The cursor of one list endpoint: its scope name and how its sort key is written into and read from JSON."""

    scope: str
    dump: Callable[[K], Any]
    load: Callable[[Any], K]

    def encode(self, key: K) -> str:
        body = json.dumps([CURSOR_VERSION, self.scope, [self.dump(key)]], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(_digest(body) + body).decode().rstrip("=")

    def decode(self, cursor: str | None) -> K | None:
        """The sort key to continue `after`; None for no cursor; InvalidCursor (400) for anything else."""
        if not cursor:
            return None
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor("too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("not URL-safe base64") from exc
        digest, body = raw[:_DIGEST_SIZE], raw[_DIGEST_SIZE:]
        if len(digest) != _DIGEST_SIZE or digest != _digest(body):
            raise InvalidCursor("damaged or edited")
        try:
            version, scope, values = json.loads(body)
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("damaged or edited") from exc
        if version != CURSOR_VERSION:
            raise InvalidCursor(f"cursor version {version!r} is not supported")
        if scope != self.scope:
            raise InvalidCursor(f"cursor belongs to another list ({scope!r})")
        if not isinstance(values, list) or len(values) != 1:
            raise InvalidCursor("damaged or edited")
        try:
            return self.load(values[0])
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("damaged or edited") from exc

    def decode_or_none(self, cursor: str | None) -> K | None:
        """For console links: a stale or edited cursor shows the first page rather than an error page."""
        try:
            return self.decode(cursor)
        except InvalidCursor:
            return None

    def take(self, rows: Sequence[R], limit: int, *, key: Callable[[R], K]) -> tuple[Sequence[R], str | None]:
        """From a service's `limit + 1` rows: the first `limit`, and the cursor after the last of them if the extra
        row shows there is more (None on the last page)."""
        shown = rows[:limit]
        return shown, self.encode(key(shown[-1])) if len(rows) > limit else None


def _load_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError("uuid key must be a string")
    return uuid.UUID(hex=value)


def _load_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise ValueError("key must be a positive 64-bit integer")
    return value


def _load_str(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or "\x00" in value:
        raise ValueError("key must be a short string")
    return value


def _load_time_and_str(value: Any) -> tuple[datetime, str]:
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], str):
        raise ValueError("key must be [timestamp, string]")
    at = datetime.fromisoformat(value[0])
    if at.tzinfo is None:
        raise ValueError("timestamp must carry its time zone")
    return at, _load_str(value[1])


def uuid_keyset(scope: str) -> Keyset[uuid.UUID]:
    return Keyset(scope, lambda key: key.hex, _load_uuid)


def int_keyset(scope: str) -> Keyset[int]:
    return Keyset(scope, lambda key: key, _load_int)


def str_keyset(scope: str) -> Keyset[str]:
    return Keyset(scope, lambda key: key, _load_str)


def time_str_keyset(scope: str) -> Keyset[tuple[datetime, str]]:
    """A (timestamp, string id) key, for lists ordered by time with the id breaking ties."""
    return Keyset(scope, lambda key: [key[0].isoformat(), key[1]], _load_time_and_str)


# One cursor per list; a scope name is never reused, so a cursor is only ever accepted by the list that issued it.
MEMBER_CURSOR = uuid_keyset("members")  # members by id, newest first
MESSAGE_CURSOR = uuid_keyset("messages")  # messages by id, newest first
LEDGER_CURSOR = int_keyset("ledger")  # a member's ledger entries by entry id, newest first
JOURNEY_RUN_CURSOR = str_keyset("journey_runs")  # a journey's runs by run id, descending
STEP_RUN_CURSOR = time_str_keyset("journey_step_runs")  # a journey's runs counted at one step, newest first
RULE_FIRING_CURSOR = uuid_keyset("rule_firings")  # a rule's firings by id, newest first
CAMPAIGN_CURSOR = uuid_keyset("campaigns")  # campaigns by id, newest first
CAMPAIGN_MEMBER_CURSOR = uuid_keyset("campaign_members")  # a campaign's snapshot by member id, ascending
AUDIT_CURSOR = uuid_keyset("audit")  # audit entries by id (time-ordered), newest first
TICKET_CURSOR = uuid_keyset("tickets")  # tickets by id (time-ordered), newest first
