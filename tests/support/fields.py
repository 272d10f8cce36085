"""Custom member fields for tests: fresh keys, definition bodies, and defining one through the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.support.helpers import ApiClient


def field_key(prefix: str = "f") -> str:
    """A fresh field key, so a test never meets another test's values."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def field_body(field_type: str = "text", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": field_key(),
        "labels": {"en": "Favourite store", "zh-CN": "常去门店"},
        "type": field_type,
    }
    if field_type in ("single_select", "multi_select"):
        body["options"] = ["red", "green", "blue"]
    body.update(overrides)
    return body


async def define_field(admin: ApiClient, field_type: str = "text", **overrides: Any) -> dict[str, Any]:
    """A field defined through the API from `field_body(...)`; returns the response body."""
    response = await admin.post("/api/v1/member-fields", json=field_body(field_type, **overrides))
    assert response.status_code == 201, response.text
    field: dict[str, Any] = response.json()
    return field


@asynccontextmanager
async def fields_defined(admin: ApiClient, *specs: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
    """Fields defined through the API for the length of a block (each spec: `field_type` and overrides of
    `field_body`), then deleted with their values: definitions are global, so no other test may meet them."""
    made: list[dict[str, Any]] = []
    try:
        for spec in specs:
            overrides = {name: value for name, value in spec.items() if name != "field_type"}
            made.append(await define_field(admin, spec.get("field_type", "text"), **overrides))
        yield made
    finally:
        for field in made:
            response = await admin.delete(f"/api/v1/member-fields/{field['key']}", params={"force": "true"})
            assert response.status_code in (200, 204), response.text
