"""Service levels: the deadlines a ticket's priority gives it, and the SLA clock the console shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.settings import CareSettings, SlaTarget
from models import Ticket


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: datetime
    resolution_due_at: datetime


def target(care: CareSettings, priority: str) -> SlaTarget:
    return care.sla[priority]


def deadlines(care: CareSettings, priority: str, opened_at: datetime) -> Deadlines:
    sla = target(care, priority)
    return Deadlines(
        first_response_due_at=opened_at + timedelta(hours=sla.first_response_hours),
        resolution_due_at=opened_at + timedelta(hours=sla.resolution_hours),
    )


@dataclass(frozen=True)
class Clock:
    """What the SLA clock shows for a ticket: the deadline it runs against, and the time left or overdue."""

    against: str  # first_response, resolution, or none (closed)
    due_at: datetime | None
    seconds_left: int | None  # zero or negative: the deadline has passed

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left <= 0

    @property
    def label(self) -> str:
        if self.seconds_left is None:
            return "closed"
        text = _duration(abs(self.seconds_left))
        return f"overdue {text}" if self.overdue else f"{text} left"


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def clock(ticket: Ticket, now: datetime) -> Clock:
    """Until the first staff reply the clock runs against the first-response deadline, then against the
    resolution deadline; a closed ticket has no clock. It never reads earlier than the ticket's last change,
    which the workflow stamps with its own clock (ahead of the wall clock under a time-skipping test server)."""
    now = max(now, ticket.updated_at)
    if ticket.status == "closed":
        return Clock("none", None, None)
    if ticket.first_response_at is None and ticket.first_response_due_at < ticket.resolution_due_at:
        due, against = ticket.first_response_due_at, "first_response"
    else:
        due, against = ticket.resolution_due_at, "resolution"
    return Clock(against, due, int((due - now).total_seconds()))
