"""The write boundary of a request: its one session, its one commit, and the Temporal commands that commit
wrote to the outbox handed to Temporal right after the response.

Every request session comes from `request_session` (behind `api.deps.SessionDep`), which arranges that
whenever the session commits, the outbox rows it wrote are delivered in a background task after the
response (through the process's shared `api.delivery.OutboxDelivery`, which batches concurrent requests'
rows), for JSON answers and the console's redirects alike. So a handler cannot commit a write and leave
its workflow starts and signals waiting for the worker's relay. Handlers and console pages commit with
`commit(session)`, once; services never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import BackgroundTasks, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.datastructures import State

from api.delivery import OutboxDelivery
from services.platform import outbox


async def deliver_outbox(state: State, ids: list[int]) -> None:
    """Fast path after commit; anything not delivered here is picked up by the worker's relay."""
    delivery: OutboxDelivery = state.delivery
    await delivery.deliver(ids)


def _deliver_after_commit(session: AsyncSession, state: State, background: BackgroundTasks) -> None:
    def after_commit(_: Session) -> None:
        ids = outbox.take_pending_ids(session)
        if ids:
            background.add_task(deliver_outbox, state, ids)

    event.listen(session.sync_session, "after_commit", after_commit)


async def request_session(request: Request, background: BackgroundTasks) -> AsyncIterator[AsyncSession]:
    """The request's session; its commits deliver their outbox rows after the response."""
    async with request.app.state.sessions() as session:
        _deliver_after_commit(session, request.app.state, background)
        yield session


async def commit(session: AsyncSession) -> None:
    """Commit the request's transaction, once. Outbox rows written in it go to Temporal after the response
    (see `request_session`); outside a request (start-up), they wait for the worker's relay."""
    await session.commit()
