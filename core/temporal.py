"""Temporal client factory and data converter, and the registration of the search attributes the product
relies on (the keys are the Temporal contract's: workflows.contracts.SEARCH_ATTRIBUTES)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode

from core.codec import EncryptionCodec
from core.settings import TemporalSettings

log = logging.getLogger(__name__)


def data_converter(settings: TemporalSettings) -> DataConverter:
    """How every Temporal client of ours (worker, API, CLI, tests, benches) turns values into payloads:
    pydantic models as JSON, sealed by the payload codec when settings.codec_keys are set. One function, so
    that no client can write what another cannot read. With the codec on, failure messages and stack traces
    move into an encoded attribute too, since an error message may quote an input."""
    ring = settings.key_ring()
    if ring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: TemporalSettings) -> Client:
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        data_converter=data_converter(settings),
        tls=settings.tls,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
    )


async def connect_with_retry(settings: TemporalSettings, *, timeout: float = 60.0) -> Client:
    """Connect, retrying while the server starts (compose and `memberflow dev` start it beside us)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.2
    while True:
        try:
            return await connect(settings)
        except RuntimeError as exc:  # the SDK raises RuntimeError when the server cannot be reached
            if loop.time() >= deadline:
                raise RuntimeError(f"Temporal at {settings.address} is not reachable: {exc}") from exc
            log.info("waiting for Temporal at %s", settings.address)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def ensure_search_attributes(client: Client, keys: Iterable[SearchAttributeKey[Any]]) -> list[str]:
    """Add these (Keyword) search attributes where missing; returns the names it added."""
    wanted = {key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in keys}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as exc:
        # The time-skipping test server cannot list them; adding is idempotent there, so add all.
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {name: kind for name, kind in wanted.items() if name not in known}
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
        log.info("added search attributes %s", ", ".join(sorted(missing)))
    return sorted(missing)
