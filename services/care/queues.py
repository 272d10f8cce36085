"""Queues: the teams that work tickets. A queue's tasks go to its role, and its lead hears of every missed SLA."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from models import CareQueue
from services.platform import audit
from services.platform.api_keys import Role
from services.platform.audit import Actor

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
STAFF_ROLES = tuple(role.value for role in Role if role is not Role.INTEGRATION)


class QueueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    lead: Name
    role: str = Role.OPS.value


async def create(session: AsyncSession, data: QueueCreate, *, actor: Actor) -> CareQueue:
    """A new queue; 409 when its code is taken, 422 for a role that is not a staff role."""
    if data.role not in STAFF_ROLES:
        message = f"role must be one of: {', '.join(STAFF_ROLES)}"
        raise InvalidInput(message, details=[{"field": "role", "message": message}])
    queue_id = (
        await session.execute(
            insert(CareQueue)
            .values(id=uuid.uuid4(), code=data.code, name=data.name, lead=data.lead, role=data.role)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(CareQueue.id)
        )
    ).scalar_one_or_none()
    if queue_id is None:
        raise Conflict(f"a queue with code {data.code!r} exists", code="queue_exists")
    await audit.record(session, actor, action="queue.create", target_type="care_queue", target_id=str(queue_id))
    return await get(session, queue_id)


async def get(session: AsyncSession, queue_id: uuid.UUID) -> CareQueue:
    found = await session.get(CareQueue, queue_id)
    if found is None:
        raise NotFound(f"queue {queue_id} does not exist", code="queue_not_found")
    return found


async def by_code(session: AsyncSession, code: str) -> CareQueue:
    found = (await session.execute(select(CareQueue).where(CareQueue.code == code))).scalar_one_or_none()
    if found is None:
        message = f"no queue has the code {code!r}"
        raise InvalidInput(message, code="queue_not_found", details=[{"field": "queue", "message": message}])
    return found


async def listing(session: AsyncSession) -> list[CareQueue]:
    return list((await session.execute(select(CareQueue).order_by(CareQueue.name, CareQueue.code))).scalars())
