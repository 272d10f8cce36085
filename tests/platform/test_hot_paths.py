"""The hot read path's plumbing: the one-dependency bearer check reads the header as HTTPBearer did, the
OpenAPI document still shows the bearer scheme (the lock in /docs) in the routers' order although the hot
routers are matched first, the metrics series are cached without losing a count, and a driver connection
that was lost leaves the pool and answers 503."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import driver_connection
from services.platform.api_keys import Role
from tests.support.helpers import ApiClient, KeyMaker, assert_error, new_member_id

MEMBER_360 = "/api/v1/members/{member_id}"


async def test_the_bearer_header_is_read_as_before(
    http: httpx.AsyncClient, shop: ApiClient, make_key: KeyMaker
) -> None:
    member_id = await new_member_id(shop)
    url = f"/api/v1/members/{member_id}"
    for header in (None, "", "Basic abc", "Bearer", "Bearer    ", f"Token {shop.key}"):
        headers = {} if header is None else {"Authorization": header}
        response = await http.get(url, headers=headers)
        assert_error(response, 401, "missing_api_key")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(await http.get(url, headers={"Authorization": "Bearer mf_not_a_key"}), 401, "invalid_api_key")
    for header in (f"bearer {shop.key}", f"BEARER   {shop.key}  "):
        response = await http.get(url, headers={"Authorization": header})
        assert response.status_code == 200, response.text
        assert response.json()["id"] == member_id
    ops = await make_key(Role.OPS)
    assert (await http.get(url, headers={"Authorization": f"Bearer {ops}"})).status_code == 200  # any role reads


async def test_a_role_check_in_the_same_dependency_names_the_roles(http: httpx.AsyncClient, make_key: KeyMaker) -> None:
    ops = ApiClient(http, await make_key(Role.OPS))
    error = assert_error(
        await ops.patch(f"/api/v1/members/{uuid.uuid4()}", json={"name": "x"}), 403, "insufficient_role"
    )
    assert error["details"] == {"required": ["admin", "integration", "marketer"], "role": "ops"}
    assert_error(await http.patch(f"/api/v1/members/{uuid.uuid4()}", json={"name": "x"}), 401, "missing_api_key")


async def test_openapi_keeps_the_bearer_scheme_and_the_routers_order(app: FastAPI, http: httpx.AsyncClient) -> None:
    served = (await http.get("/openapi.json")).json()
    assert served == app.openapi()
    assert served["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer mf_…`",
    }
    paths = list(served["paths"])
    assert paths[:3] == ["/healthz", "/readyz", "/metrics"]  # documented as included, not as matched
    assert paths.index("/api/v1/keys") < paths.index("/api/v1/members") < paths.index("/api/v1/orders")
    assert served["paths"][MEMBER_360]["get"]["security"] == [{"HTTPBearer": []}]
    keyed = [op for path, ops in served["paths"].items() if path.startswith("/api/v1/") for op in ops.values()]
    assert keyed
    assert [op["operationId"] for op in keyed if op.get("security") != [{"HTTPBearer": []}]] == []
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


async def test_matching_the_hot_routers_first_changes_no_match(shop: ApiClient, http: httpx.AsyncClient) -> None:
    member_id = await new_member_id(shop)
    points = await shop.get(f"/api/v1/members/{member_id}/points")
    assert points.status_code == 200, points.text
    assert "available" in points.json()
    assert (await shop.get(f"/api/v1/members/{member_id}/journeys")).status_code == 200
    assert_error(await shop.put(f"/api/v1/members/{member_id}", json={}), 405, "method_not_allowed")
    assert_error(await shop.get("/api/v1/members/a/b/c"), 404, "not_found")
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/docs")).status_code == 200


def _count(metrics: str, route: str, status: str) -> float:
    pattern = rf'memberflow_http_requests_total\{{method="GET",route="{re.escape(route)}",status="{status}"\}} (\S+)'
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_every_360_on_its_route_template(shop: ApiClient, http: httpx.AsyncClient) -> None:
    member_id = await new_member_id(shop)
    before = (await http.get("/metrics")).text
    for _ in range(3):
        assert (await shop.get(f"/api/v1/members/{member_id}")).status_code == 200
    assert_error(await shop.get(f"/api/v1/members/{uuid.uuid4()}"), 404, "member_not_found")
    after = (await http.get("/metrics")).text
    assert _count(after, MEMBER_360, "200") - _count(before, MEMBER_360, "200") == 3
    assert _count(after, MEMBER_360, "404") - _count(before, MEMBER_360, "404") == 1


async def test_a_lost_driver_connection_leaves_the_pool_and_answers_503(engine: AsyncEngine) -> None:
    checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]
    with pytest.raises(DBAPIError) as lost:
        async with driver_connection(engine) as driver:
            await driver.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
    assert lost.value.connection_invalidated
    assert engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
    for _ in range(engine.pool.size() + 1):  # type: ignore[attr-defined]
        async with driver_connection(engine) as driver:
            assert await driver.fetchval("SELECT 1") == 1
