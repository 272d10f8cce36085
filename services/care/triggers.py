"""The ticket events rules and journeys react to (`ticket_opened`, `ticket_closed`): recorded as the member's
event and evaluated in the activity's transaction, the way the intake records a shop's event, so the change
to the ticket and what it triggers commit together or not at all.

Each occurrence has a key (`ticket:{id}:opened`, `ticket:{id}:closed:{closing}`): the member event's unique
key makes a retried activity record it, and so trigger it, once. They carry the ticket's id only, never its
texts; nothing is recorded for an erased member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import Ticket
from services import journeys, members, rules
from services.members import events as member_events

TICKET_OPENED = "ticket_opened"
TICKET_CLOSED = "ticket_closed"


def opened_key(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}:opened"


def closed_key(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}:closed:{ticket.closings}"


async def emit(session: AsyncSession, ticket: Ticket, trigger: str, key: str, at: datetime, *, task_queue: str) -> bool:
    """Record `trigger` for the ticket's member and run the journeys and rules it reaches; False when it was
    recorded before (a retry) or the member was erased."""
    member = await members.get(session, ticket.member_id)
    if member.erased_at is not None:
        return False
    properties = {"ticket_id": str(ticket.id)}
    if not await member_events.record_once(session, member.id, trigger, key, at, properties):
        return False
    await journeys.on_event(session, member, trigger, task_queue=task_queue, properties=properties)
    await rules.evaluate_event(session, rules.RuleEvent(trigger, member, key, at), task_queue=task_queue)
    return True
