"""Care: service tickets with SLAs (queues, tickets, their history, the commands people send to a ticket's
ServiceTicket workflow, and the steps its activities take), and the surveys due after a ticket closed."""

from services.care.commands import command, send_update
from services.care.queues import QueueCreate
from services.care.sla import Clock, clock
from services.care.tickets import (
    Channel,
    Priority,
    Status,
    TicketCreate,
    create,
    get,
    history,
    listing,
    queue_board,
    queue_counts,
)

__all__ = [
    "Channel",
    "Clock",
    "Priority",
    "QueueCreate",
    "Status",
    "TicketCreate",
    "clock",
    "command",
    "create",
    "get",
    "history",
    "listing",
    "queue_board",
    "queue_counts",
    "send_update",
]
