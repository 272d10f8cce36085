"""Failed authentications: limited per source address, and each answered after the same time.

A source that fails `failed_auth_limit` times within `failed_auth_window_seconds` gets 429
`too_many_failed_logins` for every authenticated request until the window ends, a valid key included (else a
brute force would still learn which guess was right). The count is shared by every API process through one
PostgreSQL upsert per failure (services.platform.auth_failures); the block itself is kept in this process's
memory, so a request from an unblocked source costs no statement. Another process learns of the block from
its own next failure from that source, which is the one extra guess each other process allows.

Every failure (no key, a malformed header, an unknown, revoked or expired key, a wrong console sign-in) is
answered `failed_auth_floor_seconds` after its authentication began, so the time of an answer does not say
which failure it was."""

from __future__ import annotations

import asyncio
import logging
import math
import time

from fastapi import Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import TooManyRequests, Unauthorized
from core.settings import ApiSettings
from models import ApiKey
from services.platform import api_keys, auth_failures

log = logging.getLogger("memberflow.api")
_BLOCKED_LIMIT = 10_000


class AuthGuard:
    """One per app: the sources blocked in this process, and the failure count in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: ApiSettings) -> None:
        self._sessions = sessions
        self.limit = settings.failed_auth_limit
        self.window = settings.failed_auth_window_seconds
        self.floor = settings.failed_auth_floor_seconds
        self._blocked: dict[str, float] = {}  # source -> monotonic time its block ends
        self._last_counted: float | None = None  # monotonic time of this process's last counted failure

    def retry_after(self, source: str) -> int | None:
        """Whole seconds until `source` may authenticate again, or None when it is not blocked."""
        until = self._blocked.get(source)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            self._blocked.pop(source, None)
            return None
        return max(1, math.ceil(left))

    def check(self, source: str) -> None:
        retry = self.retry_after(source)
        if retry is not None:
            raise TooManyRequests(
                f"too many failed authentications from this address; try again in {retry} s",
                code="too_many_failed_logins",
                retry_after=retry,
            )

    async def failed(self, source: str, started: float, *, counted: bool = True) -> None:
        """A failure that began at `started` (monotonic): count it (a guess), then wait out the floor."""
        if counted:
            await self._count(source)
        await self.pad(started)

    async def pad(self, started: float) -> None:
        await asyncio.sleep(max(0.0, started + self.floor - time.monotonic()))

    async def _count(self, source: str) -> None:
        try:
            async with self._sessions() as session:
                count = await auth_failures.count_failure(session, source, window_seconds=self.window)
                await session.commit()
        except (OSError, DBAPIError) as exc:  # the failure is still refused; only its count is lost
            log.warning("could not count a failed authentication from %s: %s", source, exc)
            return
        self._last_counted = time.monotonic()
        if count.failures >= self.limit:
            self._block(source, count.window_left)

    def _block(self, source: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self._blocked) >= _BLOCKED_LIMIT:
            self._blocked = {s: until for s, until in self._blocked.items() if until > now}
        if len(self._blocked) < _BLOCKED_LIMIT:
            self._blocked[source] = now + max(seconds, 1.0)

    async def sweep(self) -> None:
        """Delete ended windows while this process has counted a failure within the last window and a minute
        (so the windows it started are deleted once they end), and cost nothing otherwise."""
        if self._last_counted is None or time.monotonic() - self._last_counted > self.window + 60:
            return
        async with self._sessions() as session:
            await auth_failures.forget_stale(session, window_seconds=self.window)
            await session.commit()


def client_source(request: Request) -> str:
    """The client's address: uvicorn has already replaced it by X-Forwarded-For's when the connection came
    from a trusted proxy (MEMBERFLOW_API__TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def guard_of(request: Request) -> AuthGuard:
    guard: AuthGuard = request.app.state.auth_guard
    return guard


async def api_key_for(request: Request, secret: str | None) -> ApiKey:
    """The key for `secret` (None: no usable Authorization header), within the failed-authentication limit."""
    guard = guard_of(request)
    source = client_source(request)
    guard.check(source)
    started = time.monotonic()
    if not secret:
        # Not a guess, so not counted; still answered after the floor like every failure.
        await guard.failed(source, started, counted=False)
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`", code="missing_api_key")
    try:
        return await api_keys.authenticate_cached(request.app.state.sessions, secret)
    except Unauthorized:
        await guard.failed(source, started)
        raise
