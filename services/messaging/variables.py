"""The variables a message template may use: the built-in ones and `attributes.<key>` for every custom member
field, with the labels the editors show beside them (`available_variables`), and the member's field values
as the template sees them (`attribute_values`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from models import MemberField
from services.members.fields import FieldType

# What template_variables gives every template (services.messaging.templates), in the order editors list them.
BUILTIN_VARIABLES: tuple[tuple[str, str], ...] = (
    ("member.name", "Member's name"),
    ("member.tier", "Tier code"),
    ("member.tier_name", "Tier name"),
    ("member.points", "Available points"),
    ("member.locale", "Member's locale"),
    ("coupon.code", "Coupon code"),
    ("coupon.discount", "Coupon discount (10% or 5.00)"),
    ("coupon.discount_zh", "Coupon discount, the Chinese way (9折, 立减5.00元)"),
    ("coupon.expires_on", "Coupon expiry date"),
    ("brand", "Brand name"),
    ("portal_link", "Link that signs the member in to the portal (short-lived)"),
    ("survey_link", "A survey invitation's answer page (signed, for that one send)"),
    ("tier_review.tier_name", "Tier at risk at the next review"),
    ("tier_review.would_become_name", "Tier the review would give"),
    ("tier_review.amount_needed", "Spend (or points) still needed to keep the tier"),
    ("tier_review.review_on", "Date of the tier review"),
)


class OptionList(list[str]):
    """A multi-select value: a list for `{% if "x" in ... %}` and loops, printed as "a, b" rather than as
    Python's ['a', 'b']."""

    def __str__(self) -> str:
        return ", ".join(self)


def available_variables(fields: Iterable[MemberField]) -> list[tuple[str, str]]:
    """(variable, label) for the editors: the built-in ones, then `attributes.<key>` per custom field (its
    English label)."""
    return [*BUILTIN_VARIABLES, *((f"attributes.{field.key}", field.label_en) for field in fields)]


def _shown(field: MemberField, value: Any) -> Any:
    if value is None:
        return ""
    if field.type == FieldType.MULTI_SELECT and isinstance(value, list):
        return OptionList(str(item) for item in value)
    return value


def attribute_values(fields: Iterable[MemberField], attributes: Mapping[str, Any] | None) -> SimpleNamespace:
    """`attributes` in a template: one attribute per defined field, the member's value or "" when they hold
    none (so `{{ attributes.shoe_size }}` prints nothing rather than failing the message). A key no field
    defines is not there, so a typo still fails as any unknown variable does. A namespace rather than a dict,
    so a field called `items` or `keys` is the field, not a dict method."""
    held = attributes or {}
    return SimpleNamespace(**{field.key: _shown(field, held.get(field.key)) for field in fields})
