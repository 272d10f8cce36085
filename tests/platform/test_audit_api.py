"""GET /api/v1/audit: admins and ops read who did what, filtered and paged; everyone else is refused."""

from __future__ import annotations

import uuid

import httpx

from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error, role_client


async def _adjust_tiers_twice(admin: ApiClient) -> list[dict[str, object]]:
    ladder = (await admin.get("/api/v1/tiers")).json()["tiers"]
    body = {"tiers": [{k: t[k] for k in ("code", "name", "min_spend_exclusive", "earn_multiplier")} for t in ladder]}
    for _ in range(2):
        assert (await admin.put("/api/v1/tiers", json=body)).status_code == 200, body
    return ladder


async def test_admins_and_ops_read_the_log_filtered_newest_first_page_by_page(
    http: httpx.AsyncClient, admin: ApiClient, make_key: KeyMaker
) -> None:
    await _adjust_tiers_twice(admin)
    ops = await role_client(http, make_key, Role.OPS)
    first = await ops.get("/api/v1/audit", params={"action": "tiers.replace", "limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    second = await ops.get(
        "/api/v1/audit", params={"action": "tiers.replace", "limit": 1, "cursor": page["next_cursor"]}
    )
    newest, older = page["items"][0], second.json()["items"][0]
    assert newest["created_at"] >= older["created_at"]
    assert newest["id"] != older["id"]
    assert newest["action"] == older["action"] == "tiers.replace"
    assert newest["details"]["via"] == "api"
    by_key = await ops.get("/api/v1/audit", params={"actor_key_id": newest["actor_key_id"], "action": "tiers."})
    assert {item["id"] for item in by_key.json()["items"]} >= {newest["id"], older["id"]}
    assert all(item["actor_key_id"] == newest["actor_key_id"] for item in by_key.json()["items"])
    nothing = await ops.get("/api/v1/audit", params={"target_id": f"no-such-{uuid.uuid4()}"})
    assert nothing.json() == {"items": [], "next_cursor": None}


async def test_other_roles_and_bad_filters_are_refused(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    ops = await role_client(http, make_key, Role.OPS)
    for role in (Role.MARKETER, Role.APPROVER, Role.INTEGRATION):
        other = await role_client(http, make_key, role)
        assert (await other.get("/api/v1/audit")).status_code == 403
    assert (await http.get("/api/v1/audit")).status_code == 401
    naive = await ops.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00"})
    assert assert_error(naive, 422)["details"][0]["field"] == "query.since"
    backwards = await ops.get(
        "/api/v1/audit", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    )
    assert assert_error(backwards, 422)["details"][0]["field"] == "query.since"
    assert (await ops.get("/api/v1/audit", params={"cursor": "nonsense"})).status_code == 400
    assert (await ops.get("/api/v1/audit", params={"limit": 0})).status_code == 422
