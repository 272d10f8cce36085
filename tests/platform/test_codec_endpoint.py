"""The codec endpoint the Temporal UI and CLI call: Temporal's remote codec protocol, ops and admin only (API
key on /codec, console session on /console/codec), the namespace checked, CORS for the UI's origin only."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.console.auth import COOKIE, issue_cookie
from core.settings import Settings
from core.temporal import data_converter
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.codec import encrypted
from tests.support.helpers import KeyMaker
from workflows.contracts import JourneyInput

UI = "http://temporal-ui.example:8080"
NS = {"X-Namespace": "default"}


@pytest.fixture
def codec_settings(settings: Settings) -> Settings:
    temporal = encrypted(settings.temporal.model_copy(update={"ui_url": f"{UI}/namespaces/default"}))
    return settings.model_copy(update={"temporal": temporal})


@pytest_asyncio.fixture
async def codec_http(
    codec_settings: Settings, engine: AsyncEngine, temporal_dev: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(codec_settings, engine=engine, temporal_client=temporal_dev.client)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://memberflow.test") as client:
            yield client


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **NS}


def _wire(payloads: Any) -> dict[str, Any]:
    """Payloads as the UI sends them: proto3 JSON, bytes fields base64."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


async def _sealed(codec_settings: Settings) -> dict[str, Any]:
    converter = data_converter(codec_settings.temporal)
    return _wire(await converter.encode([JourneyInput(member_id="m-codec-1", kind="welcome")]))


async def test_ops_and_admin_keys_decode_what_the_worker_encrypted(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    body = await _sealed(codec_settings)
    assert b"m-codec-1" not in base64.b64decode(body["payloads"][0]["data"])
    for role in (Role.OPS, Role.ADMIN):
        response = await codec_http.post("/codec/decode", json=body, headers=_bearer(await make_key(role)))
        assert response.status_code == 200, response.text
        [payload] = response.json()["payloads"]
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
        assert b'"member_id":"m-codec-1"' in base64.b64decode(payload["data"])
    # The API-key door is documented in the OpenAPI schema; the browser's door, like the console, is not.
    paths = (await codec_http.get("/openapi.json")).json()["paths"]
    assert {"/codec/decode", "/codec/encode"} <= set(paths)
    assert not any(path.startswith("/console/codec") for path in paths)


async def test_encode_then_decode_round_trips_input_typed_into_the_ui(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    headers = _bearer(await make_key(Role.OPS))
    typed = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": "IjQyIg=="}]}
    encoded = await codec_http.post("/codec/encode", json=typed, headers=headers)
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"test-new"
    decoded = await codec_http.post("/codec/decode", json=encoded.json(), headers=headers)
    assert decoded.json() == typed
    # The worker's own converter reads what the endpoint sealed.
    converter = data_converter(codec_settings.temporal)
    proto = (await converter.encode(["x"]))[0].__class__(
        metadata={k: base64.b64decode(v) for k, v in sealed["metadata"].items()}, data=base64.b64decode(sealed["data"])
    )
    assert await converter.decode([proto]) == ["42"]


async def test_no_key_is_401_and_other_roles_are_403(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    body = await _sealed(codec_settings)
    missing = await codec_http.post("/codec/decode", json=body, headers=NS)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = await codec_http.post("/codec/decode", json=body, headers=_bearer("mf_not-a-key"))
    assert wrong.status_code == 401
    for role in (Role.MARKETER, Role.APPROVER, Role.INTEGRATION):
        response = await codec_http.post("/codec/decode", json=body, headers=_bearer(await make_key(role)))
        assert response.status_code == 403, role
        assert response.json()["error"]["code"] == "insufficient_role"


async def test_the_namespace_header_is_required_and_must_be_the_served_one(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    body = await _sealed(codec_settings)
    secret = await make_key(Role.OPS)
    missing = await codec_http.post("/codec/decode", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "x-namespace"
    other = await codec_http.post("/codec/decode", json=body, headers={**_bearer(secret), "X-Namespace": "billing"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "namespace_not_served"


async def test_bad_payloads_are_precise_422s(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    headers = _bearer(await make_key(Role.OPS))
    not_base64 = await codec_http.post("/codec/decode", json={"payloads": [{"data": "%%%"}]}, headers=headers)
    assert not_base64.status_code == 422
    assert not_base64.json()["error"]["details"][0]["field"] == "payloads.0"
    body = await _sealed(codec_settings)
    body["payloads"][0]["metadata"]["encryption-key-id"] = base64.b64encode(b"retired-2024").decode()
    unknown = await codec_http.post("/codec/decode", json=body, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "undecodable_payload"
    assert "'retired-2024', which is not in the key ring" in unknown.json()["error"]["message"]
    shapeless = await codec_http.post("/codec/decode", json={"payload": []}, headers=headers)
    assert shapeless.status_code == 422


async def test_a_preflight_from_the_ui_origin_is_allowed_and_others_are_refused(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker
) -> None:
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    for path in ("/codec/decode", "/console/codec/decode", "/codec/encode"):
        ok = await codec_http.options(path, headers={"Origin": UI, **asking})
        assert ok.status_code == 204, path
        assert ok.headers["access-control-allow-origin"] == UI
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert {"content-type", "x-namespace", "authorization"} <= {
            h.strip() for h in ok.headers["access-control-allow-headers"].split(",")
        }
        assert "POST" in ok.headers["access-control-allow-methods"]
    evil = await codec_http.options("/codec/decode", headers={"Origin": "https://evil.example", **asking})
    assert evil.status_code == 403
    assert "access-control-allow-origin" not in evil.headers
    # A POST from a page elsewhere is refused before it is decoded; one from the UI carries the CORS headers.
    body = await _sealed(codec_settings)
    headers = _bearer(await make_key(Role.OPS))
    elsewhere = await codec_http.post("/codec/decode", json=body, headers={**headers, "Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"] == "origin_not_allowed"
    from_ui = await codec_http.post("/codec/decode", json=body, headers={**headers, "Origin": UI})
    assert from_ui.status_code == 200
    assert from_ui.headers["access-control-allow-origin"] == UI
    # No other route answers CORS.
    api = await codec_http.options("/api/v1/members", headers={"Origin": UI, **asking})
    assert "access-control-allow-origin" not in api.headers


async def test_the_console_door_takes_an_ops_session_cookie(
    codec_http: httpx.AsyncClient, codec_settings: Settings, make_key: KeyMaker, sessions: Any
) -> None:
    body = await _sealed(codec_settings)
    cookies: dict[str, str] = {}
    for role in (Role.OPS, Role.MARKETER):
        async with sessions() as session:
            issued = await api_keys.create(session, name=f"test-codec-{role.value}", role=role)
            await session.commit()
        cookies[role.value] = issue_cookie(codec_settings, issued.key.id)
    ops = await codec_http.post(
        "/console/codec/decode", json=body, headers={**NS, "Origin": UI, "Cookie": f"{COOKIE}={cookies['ops']}"}
    )
    assert ops.status_code == 200, ops.text
    assert b"m-codec-1" in base64.b64decode(ops.json()["payloads"][0]["data"])
    marketer = await codec_http.post(
        "/console/codec/decode", json=body, headers={**NS, "Cookie": f"{COOKIE}={cookies['marketer']}"}
    )
    assert marketer.status_code == 403
    forged = await codec_http.post("/console/codec/decode", json=body, headers={**NS, "Cookie": f"{COOKIE}=v1.x.1.y.z"})
    assert forged.status_code == 401
    # The API-key door does not take the cookie, nor the console door a bearer key.
    assert (
        await codec_http.post("/codec/decode", json=body, headers={**NS, "Cookie": f"{COOKIE}={cookies['ops']}"})
    ).status_code == 401
    console_bearer = await codec_http.post(
        "/console/codec/decode", json=body, headers=_bearer(await make_key(Role.OPS))
    )
    assert console_bearer.status_code == 401


async def test_where_encryption_is_off_the_endpoint_says_so(
    settings: Settings, engine: AsyncEngine, temporal_dev: WorkflowEnvironment, make_key: KeyMaker
) -> None:
    clear = settings.temporal.model_copy(update={"codec_keys": None, "codec_active_key": None})
    application = create_app(settings.model_copy(update={"temporal": clear}), engine=engine)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as http:
            headers = _bearer(await make_key(Role.OPS))
            response = await http.post("/codec/decode", json={"payloads": []}, headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "codec_disabled"
