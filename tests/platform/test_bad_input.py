"""Hostile and malformed input: always a 4xx in the error envelope, and nothing written."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import pagination
from api.pagination import Keyset
from core.ids import uuid7
from models import Member, Order
from tests.support.helpers import ApiClient, assert_error, member_body, order_body


async def _table_counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        members = (await session.execute(select(func.count()).select_from(Member))).scalar_one()
        orders = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
    return members, orders


BAD_MEMBERS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field", member_body(nickname="x"), "body.nickname"),
    ("wrong type", member_body(consent={"email": "maybe"}), "body.consent.email"),
    ("missing external id", {"name": "No Id"}, "body.external_id"),
    ("blank external id", member_body(external_id="   "), "body.external_id"),
    ("bad email", member_body(email="not-an-email"), "body.email"),
    ("bad phone", member_body(phone="12345"), "body.phone"),
    ("unknown time zone", member_body(timezone="Mars/Olympus"), "body.timezone"),
    ("bad locale", member_body(locale="english please"), "body.locale"),
    ("future birthday", member_body(birthday="2999-01-01"), "body.birthday"),
    ("huge name", member_body(name="x" * 5000), "body.name"),
    ("not an object", [1, 2, 3], "body"),  # type: ignore[list-item]
    ("undefined custom field", member_body(attributes={"no_such_field": 1}), "body.attributes.no_such_field"),
    ("attributes not an object", member_body(attributes=["a"]), "body.attributes"),
    ("bad tag", member_body(tags=["Not A Tag"]), "body.tags.0"),
    ("tags not a list", member_body(tags={"vip": True}), "body.tags"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_MEMBERS, ids=[c[0] for c in BAD_MEMBERS])
async def test_bad_member_bodies_are_422_naming_the_field(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession], case: str, body: Any, field: str
) -> None:
    before = await _table_counts(sessions)
    error = assert_error(await shop.post("/api/v1/members", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, (case, error)
    assert await _table_counts(sessions) == before


def _bad_orders(member_id: str) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("negative amount", order_body(member_id, amount="-5.00"), "body.amount"),
        ("absurd amount", order_body(member_id, amount="99999999999.00"), "body.amount"),
        ("float amount", order_body(member_id, amount=12.5), "body.amount"),
        ("three decimals", order_body(member_id, amount="1.005"), "body.amount"),
        ("not a number", order_body(member_id, amount="lots"), "body.amount"),
        ("infinite", order_body(member_id, amount="Infinity"), "body.amount"),
        ("bad currency", order_body(member_id, currency="yuan"), "body.currency"),
        ("refund status here", order_body(member_id, status="refunded"), "body.status"),
        ("naive timestamp", order_body(member_id, placed_at="2026-01-15T10:30:00"), "body.placed_at"),
        ("future order", order_body(member_id, placed_at="2999-01-01T00:00:00Z"), "body.placed_at"),
        ("bad member id", order_body("nope"), "body.member_id"),
        (
            "zero quantity",
            order_body(member_id, items=[{"sku": "A", "quantity": 0, "unit_price": "1.00"}]),
            "body.items.0.quantity",
        ),
        (
            "too many items",
            order_body(member_id, items=[{"sku": "A", "quantity": 1, "unit_price": "1.00"}] * 501),
            "body.items",
        ),
    ]


async def test_bad_order_bodies_are_422_naming_the_field(
    shop: ApiClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    member_id = (await shop.post("/api/v1/members", json=member_body())).json()["id"]
    before = await _table_counts(sessions)
    for case, body, field in _bad_orders(member_id):
        error = assert_error(await shop.post("/api/v1/orders", json=body), 422, "validation_error")
        assert field in {d["field"] for d in error["details"]}, (case, error)
    assert await _table_counts(sessions) == before
    view = (await shop.get(f"/api/v1/members/{member_id}")).json()
    assert view["order_count"] == 0
    assert view["points"]["posted"] == 0


async def test_malformed_json_is_400(shop: ApiClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    before = await _table_counts(sessions)
    response = await shop.post(
        "/api/v1/members", content=b'{"external_id": "x", ', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")
    assert await _table_counts(sessions) == before


async def test_oversized_body_is_413_declared_or_streamed(shop: ApiClient) -> None:
    big = member_body(name="x" * (1024 * 1024 + 10))
    assert_error(await shop.post("/api/v1/members", json=big), 413, "payload_too_large")

    async def stream() -> Any:
        for _ in range(20):
            yield b"x" * 100_000

    response = await shop.post("/api/v1/members", content=stream(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")


async def test_unknown_route_and_wrong_method_use_the_envelope(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await http.put("/healthz"), 405, "method_not_allowed")


async def test_missing_or_wrong_key_is_401(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/api/v1/members"), 401, "missing_api_key")
    response = await http.get("/api/v1/members", headers={"Authorization": "Bearer mf_not_a_real_key"})
    assert_error(response, 401, "invalid_api_key")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(await http.get("/api/v1/members", headers={"Authorization": "Basic abc"}), 401)
    assert_error(await http.post("/api/v1/members", json=member_body()), 401, "missing_api_key")


async def test_wrong_role_is_403_and_writes_nothing(
    http: httpx.AsyncClient, make_key: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from services.platform.api_keys import Role

    approver = ApiClient(http, await make_key(Role.APPROVER))
    marketer = ApiClient(http, await make_key(Role.MARKETER))
    before = await _table_counts(sessions)
    error = assert_error(await approver.post("/api/v1/members", json=member_body()), 403, "insufficient_role")
    assert error["details"]["role"] == "approver"
    assert_error(await marketer.post("/api/v1/orders", json=order_body(str(uuid.uuid4()))), 403, "insufficient_role")
    assert_error(await marketer.post("/api/v1/keys", json={"name": "x", "role": "admin"}), 403, "insufficient_role")
    field = {"key": "nickname", "labels": {"en": "Nickname", "zh-CN": "昵称"}, "type": "text"}
    assert_error(await marketer.post("/api/v1/member-fields", json=field), 403, "insufficient_role")
    assert await _table_counts(sessions) == before
    assert (await approver.get("/api/v1/members", params={"limit": 1})).status_code == 200


async def test_bad_idempotency_key_header_is_422(shop: ApiClient) -> None:
    response = await shop.post("/api/v1/members", json=member_body(), headers={"Idempotency-Key": "has space"})
    assert_error(response, 422, "invalid_idempotency_key")


async def test_values_found_by_fuzzing_are_4xx(admin: ApiClient) -> None:
    """Cases a schemathesis run over the OpenAPI once turned into 500s."""
    huge = await admin.get("/api/v1/journeys/welcome/versions/2436206662051168814345748480")
    assert_error(huge, 422, "validation_error")
    not_a_string = await admin.post(
        "/api/v1/coupons/redeem", json={"code": {}, "member_id": str(uuid.uuid4()), "order_ref": "0"}
    )
    error = assert_error(not_a_string, 422, "validation_error")
    assert error["details"][0]["field"] == "body.code"


async def test_nul_characters_are_refused_before_they_reach_the_database(shop: ApiClient, admin: ApiClient) -> None:
    assert_error(await shop.post("/api/v1/members", json=member_body(name="A\u0000B")), 422, "validation_error")
    assert_error(await admin.post("/api/v1/rewards", json={"name": "x\u0000", "points_cost": 10}), 422)
    assert_error(await shop.get("/api/v1/members", params={"query": "a\x00b"}), 422, "validation_error")
    assert (await shop.get("/api/v1/members", params={"query": "plain"})).status_code == 200


async def test_hostile_member_field_input_is_4xx_and_defines_nothing(admin: ApiClient) -> None:
    labels = {"en": "Nickname", "zh-CN": "昵称"}
    cases: list[tuple[dict[str, Any], int]] = [
        ({"key": "nick\u0000", "labels": labels, "type": "text"}, 422),
        ({"key": "nickname", "labels": {"en": "x" * 101, "zh-CN": "昵称"}, "type": "text"}, 422),
        ({"key": "nickname", "labels": labels, "type": "single_select", "options": [f"o{i}" for i in range(101)]}, 422),
        ({"key": "nickname", "labels": labels, "type": "single_select", "options": [{"value": "a"}]}, 422),
        ({"key": ["nickname"], "labels": labels, "type": "text"}, 422),
    ]
    for body, status in cases:
        assert_error(await admin.post("/api/v1/member-fields", json=body), status)
    assert_error(await admin.get(f"/api/v1/member-fields/{'k' * 65}"), 422, "validation_error")
    assert_error(await admin.delete("/api/v1/member-fields/nickname", params={"force": "perhaps"}), 422)
    assert "nickname" not in {f["key"] for f in (await admin.get("/api/v1/member-fields")).json()}


def _edited(cursor: str) -> str:
    """The same cursor with one byte of its body changed, as a client editing it by hand would."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


_SOME_ID = uuid.uuid4()
_UUID_KEYS_OF_THE_WRONG_KIND = ("not-a-uuid", 17, None, [1], {"id": 1})
# Every cursor-paged list: its URL, its own cursor, a key for it, and well-formed keys it must refuse.
LIST_ENDPOINTS: list[tuple[str, Keyset[Any], Any, tuple[Any, ...]]] = [
    ("/api/v1/members", pagination.MEMBER_CURSOR, uuid7(), _UUID_KEYS_OF_THE_WRONG_KIND),
    ("/api/v1/messages", pagination.MESSAGE_CURSOR, uuid7(), _UUID_KEYS_OF_THE_WRONG_KIND),
    (f"/api/v1/members/{_SOME_ID}/ledger", pagination.LEDGER_CURSOR, 42, ("42", 0, -1, True, 2**70, 1.5)),
    ("/api/v1/journeys/welcome/runs", pagination.JOURNEY_RUN_CURSOR, str(uuid.uuid4()), (7, "", "a\x00b", "x" * 65)),
    (f"/api/v1/rules/{_SOME_ID}/firings", pagination.RULE_FIRING_CURSOR, uuid7(), _UUID_KEYS_OF_THE_WRONG_KIND),
    ("/api/v1/campaigns", pagination.CAMPAIGN_CURSOR, uuid7(), _UUID_KEYS_OF_THE_WRONG_KIND),
    (f"/api/v1/campaigns/{_SOME_ID}/members", pagination.CAMPAIGN_MEMBER_CURSOR, uuid7(), _UUID_KEYS_OF_THE_WRONG_KIND),
]


def _bad_cursors(keyset: Keyset[Any], key: Any, wrong_keys: tuple[Any, ...]) -> dict[str, str]:
    good = keyset.encode(key)
    other = pagination.CAMPAIGN_CURSOR if keyset is pagination.MEMBER_CURSOR else pagination.MEMBER_CURSOR
    forged = Keyset(keyset.scope, lambda value: value, keyset.load)  # right scope and digest, key of the wrong kind
    return {
        "not base64": "!!!",
        "random bytes": base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("="),
        "edited": _edited(good),
        "truncated": good[:-6],
        "from another list": other.encode(uuid7()),
        "too long": good + "A" * 300,
        **{f"key {wrong!r}": forged.encode(wrong) for wrong in wrong_keys},
    }


@pytest.mark.parametrize(
    ("url", "keyset", "key", "wrong_keys"), LIST_ENDPOINTS, ids=[e[1].scope for e in LIST_ENDPOINTS]
)
async def test_a_cursor_this_list_did_not_issue_is_400_invalid_cursor(
    shop: ApiClient, url: str, keyset: Keyset[Any], key: Any, wrong_keys: tuple[Any, ...]
) -> None:
    for case, cursor in _bad_cursors(keyset, key, wrong_keys).items():
        error = assert_error(await shop.get(url, params={"cursor": cursor}), 400, "invalid_cursor")
        assert error["details"][0]["field"] == "query.cursor", (case, error)
    # The list's own cursor is accepted (an unknown parent is then the usual 404, an empty page otherwise).
    assert (await shop.get(url, params={"cursor": keyset.encode(key)})).status_code in (200, 404)
