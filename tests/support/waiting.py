"""Waiting on a condition with a deadline instead of sleeping a fixed time: the check runs until it holds, so a
slow machine only waits longer and a fast one does not wait at all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `check` until it returns True; fail with `what` once `timeout` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def value_when(
    read: Callable[[], Awaitable[T]], ready: Callable[[T], bool], *, timeout: float = 30.0, what: str = "value"
) -> T:
    """Read until `ready(value)` holds and return that value; on timeout the last value read is in the error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await read()
        if ready(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last read {value!r}")
        await asyncio.sleep(0.05)
