"""Members: the member record, its validation, reads, updates and search."""

from services.members.service import (
    Birthday,
    Consent,
    ConsentUpdate,
    ExternalId,
    Locale,
    MemberCreate,
    MemberUpdate,
    Name,
    Phone,
    Timezone,
    change_tags,
    create,
    get,
    search,
    update,
)

__all__ = [
    "Birthday",
    "Consent",
    "ConsentUpdate",
    "ExternalId",
    "Locale",
    "MemberCreate",
    "MemberUpdate",
    "Name",
    "Phone",
    "Timezone",
    "change_tags",
    "create",
    "get",
    "search",
    "update",
]
