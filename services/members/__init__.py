"""Members: the member record, its validation, reads, updates and search; custom member fields (`fields`)."""

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
    Tag,
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
    "Tag",
    "Timezone",
    "change_tags",
    "create",
    "get",
    "search",
    "update",
]
