"""Staff tasks: to-dos for people (call this member, send a note), created by journeys and rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.ids import uuid7
from models import StaffTask
from services.platform import audit
from services.platform.audit import Actor


async def create(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    title: str,
    assignee_role: str,
    due_days: int = 0,
    source_key: str,
    due_at: datetime | None = None,
    assignee: str | None = None,
) -> uuid.UUID:
    """Create a task once per source key (a retried journey step finds the task it made). Due `due_days` from
    now, or at `due_at`; for one person of the role when `assignee` names them (a ticket's, a queue's lead)."""
    task_id = uuid7()
    await session.execute(
        insert(StaffTask)
        .values(
            id=task_id,
            member_id=member_id,
            title=title,
            assignee_role=assignee_role,
            assignee=assignee,
            status="open",
            due_at=due_at or datetime.now(UTC) + timedelta(days=due_days),
            source_key=source_key,
        )
        .on_conflict_do_nothing(index_elements=["source_key"])
    )
    existing = (await session.execute(select(StaffTask.id).where(StaffTask.source_key == source_key))).scalar_one()
    return existing


async def listing(
    session: AsyncSession, *, status: str | None, role: str | None, member_id: uuid.UUID | None, limit: int
) -> list[StaffTask]:
    stmt = select(StaffTask)
    if status:
        stmt = stmt.where(StaffTask.status == status)
    if role:
        stmt = stmt.where(StaffTask.assignee_role == role)
    if member_id:
        stmt = stmt.where(StaffTask.member_id == member_id)
    stmt = stmt.order_by(StaffTask.due_at.asc().nulls_last(), StaffTask.id).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def set_done(session: AsyncSession, task_id: uuid.UUID, *, done: bool, actor: Actor) -> StaffTask:
    task = await session.get(StaffTask, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"task {task_id} does not exist", code="task_not_found")
    task.status = "done" if done else "open"
    task.done_at = datetime.now(UTC) if done else None
    task.done_by = actor.name if done else None
    await session.flush()
    await audit.record(
        session,
        actor,
        action="task.done" if done else "task.reopen",
        target_type="staff_task",
        target_id=str(task.id),
    )
    return task
