"""Schemathesis over every operation of the app's OpenAPI schema, in-process: no answer is a 5xx, every error
is the project's envelope, and every answer matches the schema where the schema declares one.

The app runs against its own database on the session's PostgreSQL server (and the shared Temporal dev server):
an admin key fuzzing every write rewrites global configuration (the tier ladder, message templates, required
custom fields, enabled rules) that the rest of the suite relies on, and a fresh database also makes each run
start from the same state, so that a run is reproducible. Examples come from a fixed seed with derandomized
Hypothesis; MEMBERFLOW_FUZZ_EXAMPLES raises the number of fuzzed examples per operation (docs/development.md)."""

from __future__ import annotations

import asyncio
import copy
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.app import create_app
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres
from services.platform import api_keys
from services.platform.api_keys import Role
from tests.support.brand import scratch_database
from tests.support.schema_fuzz import BASE_URL, error_envelope, in_process_session

SEED = 20261215
EXAMPLES = int(os.environ.get("MEMBERFLOW_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, error_envelope]


@pytest_asyncio.fixture(scope="module")
async def fuzz_app(postgres: EmbeddedPostgres, base_settings: Settings, temporal_dev: Any) -> AsyncIterator[FastAPI]:
    scratch = await scratch_database(postgres, "fuzz")
    temporal = base_settings.temporal.model_copy(update={"task_queue": f"tq-fuzz-{uuid.uuid4()}"})
    app_settings = base_settings.model_copy(update={"database_url": scratch.url, "temporal": temporal})
    app = create_app(app_settings, engine=scratch.engine, temporal_client=temporal_dev.client)
    try:
        async with app.router.lifespan_context(app):
            yield app
    finally:
        await scratch.engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def fuzz_http(fuzz_app: FastAPI) -> AsyncIterator[requests.Session]:
    """A `requests` session whose calls the app answers in-process on this loop (a 500 stays a response)."""
    transport = httpx.ASGITransport(app=fuzz_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        with in_process_session(asyncio.get_running_loop(), client) as session:
            yield session


async def _key(app: FastAPI, role: Role) -> str:
    async with app.state.sessions() as session:
        issued = await api_keys.create(session, name=f"fuzz-{role.value}", role=role)
        await session.commit()
        return issued.secret


@pytest_asyncio.fixture(scope="module")
async def fuzz_keys(fuzz_app: FastAPI) -> dict[Role, str]:
    return {role: await _key(fuzz_app, role) for role in (Role.ADMIN, Role.APPROVER)}


def _schema(examples: int, *, coverage: bool) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
                # The key is ours (one per pass); generated Authorization headers would only test 401s.
                "with-security-parameters": False,
            },
            # Coverage: boundary and just-out-of-bounds values for every parameter and body field, plus each
            # method the path does not allow.
            "phases": {"coverage": {"enabled": coverage}},
        }
    )
    return schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI), config=config)


# The schema is loaded at import so that each operation is its own test item (schemathesis's fixture-based
# loader does not run on pytest 9). An app object that never starts gives the same schema as the running one:
# test_the_fuzzed_schema_is_the_running_apps checks it.
OPENAPI = create_app(Settings()).openapi()
AS_ADMIN = _schema(EXAMPLES, coverage=True)
# The second pass shows that role refusals are enveloped and that what an approver may read holds up; the role
# check runs before any parameter is used, so a few random examples per operation are enough.
AS_APPROVER = _schema(max(1, EXAMPLES // 4), coverage=False)
FUZZ_SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _call(case: Case, session: requests.Session, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    response = case.call_and_validate(base_url=BASE_URL, session=session, headers=headers, checks=CHECKS)
    # A pass whose key stopped working would see nothing but enveloped 401s and still pass every check.
    assert response.status_code != 401, response.text
    return response.status_code


@AS_ADMIN.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_admin(case: Case, fuzz_http: requests.Session, fuzz_keys: dict[Role, str]) -> None:
    status = _call(case, fuzz_http, fuzz_keys[Role.ADMIN])
    assert status != 403, "an admin key may call every operation"


@AS_APPROVER.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_approver(case: Case, fuzz_http: requests.Session, fuzz_keys: dict[Role, str]) -> None:
    _call(case, fuzz_http, fuzz_keys[Role.APPROVER])


def test_the_fuzzed_schema_is_the_running_apps(fuzz_app: FastAPI) -> None:
    assert fuzz_app.openapi() == OPENAPI


def _answer(status: int, body: bytes, content_type: str = "application/json") -> schemathesis.Response:
    answer = httpx.Response(status, content=body, headers={"content-type": content_type})
    answer.request = httpx.Request("GET", f"{BASE_URL}/api/v1/members")
    answer.elapsed = timedelta(0)
    return schemathesis.Response.from_any(answer)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (422, b'{"detail": [{"loc": ["query", "limit"], "msg": "bad"}]}', "application/json"),  # FastAPI's own
        (500, b"Internal Server Error", "text/plain"),  # Starlette's own
        (404, b'{"error": {"code": "not_found"}}', "application/json"),  # no message
        (400, b'{"error": {"code": "x", "message": "y", "details": null}, "extra": 1}', "application/json"),
    ],
)
def test_the_envelope_check_refuses_other_error_bodies(status: int, body: bytes, content_type: str) -> None:
    case = AS_ADMIN["/api/v1/members"]["GET"].Case()
    with pytest.raises(AssertionError):
        error_envelope(None, _answer(status, body, content_type), case)  # type: ignore[arg-type]
    good = b'{"error": {"code": "not_found", "message": "no such member", "details": null}}'
    assert error_envelope(None, _answer(404, good), case) is True  # type: ignore[arg-type]
    assert error_envelope(None, _answer(200, b"[]"), case) is None  # type: ignore[arg-type]


def test_property_tests_elsewhere_still_report_their_failing_case() -> None:
    """Loading schemathesis silences Hypothesis's printer for the session; tests/conftest.py restores it."""

    @settings(derandomize=True, database=None)
    @given(st.lists(st.integers(min_value=0, max_value=1000)))
    def sums_stay_small(values: list[int]) -> None:
        assert sum(values) < 100

    with pytest.raises(AssertionError) as failure:
        sums_stay_small()
    assert "values=[100]" in "\n".join(getattr(failure.value, "__notes__", [])), failure.value
