"""Messaging: templates, consent and opt-out, providers, and the exactly-once send."""

from services.messaging.service import (
    FREQUENCY_WINDOW,
    UNKNOWN_OUTCOME,
    Category,
    MessageStatus,
    Outcome,
    Outgoing,
    SendRequest,
    Suppression,
    claim,
    find,
    list_messages,
    mark_failed,
    mark_sent,
    prepare,
    quiet_hours_end,
    recent_messages,
    release,
)
from services.messaging.templates import (
    seed_builtin_templates,
)
from services.messaging.variables import available_variables

__all__ = [
    "Category",
    "FREQUENCY_WINDOW",
    "MessageStatus",
    "Outcome",
    "Outgoing",
    "SendRequest",
    "Suppression",
    "UNKNOWN_OUTCOME",
    "available_variables",
    "claim",
    "find",
    "list_messages",
    "mark_failed",
    "mark_sent",
    "prepare",
    "quiet_hours_end",
    "recent_messages",
    "release",
    "seed_builtin_templates",
]
