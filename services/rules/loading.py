"""The rules of a trigger, compiled once and cached per process, checked against the database on every event.

An event used to read its trigger's rules and versions and parse each definition; with 25 rules that was the
largest part of its cost. Now each process keeps, per trigger, the compiled rules (parsed definition and
condition predicate per rule version) under a fingerprint of the trigger's rule rows: the id, the current
version, the enabled flag and the row's `xmin` (the transaction that last wrote it). Publishing, enabling or
disabling a rule rewrites its row, so the fingerprint changes in every process at the commit, with no
message to miss; an event pays one small indexed query to compare it, and reloads only when it changed.
A change that was rolled back has its own `xmin`, so what it cached is never taken for the committed rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.definitions.conditions import leaves
from services.rules.definition import RuleDefinition
from services.rules.predicates import Predicate, compile_condition

__all__ = ["CompiledRule", "compile_definition", "rules_for"]

# One expression for both queries, so a fingerprint read alone and one read with the rows compare equal.
_FINGERPRINT = (
    "coalesce(md5(string_agg(id::text || ':' || current_version || ':' || enabled || ':' || xmin::text, ','"
    " ORDER BY id)), '')"
)
_CHECK = text(f"SELECT {_FINGERPRINT} FROM rules WHERE trigger = :trigger")
_LOAD = text(
    "SELECT r.id, r.name, r.priority, r.current_version, r.enabled, r.builtin, v.definition,"
    f" (SELECT {_FINGERPRINT} FROM rules WHERE trigger = :trigger) AS fingerprint"
    " FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.current_version"
    " WHERE r.trigger = :trigger ORDER BY r.priority, r.name"
).columns(definition=JSONB)
_MAX_VERSIONS = 10_000


@dataclass(frozen=True)
class CompiledRule:
    """One rule as an event sees it: the row's facts, its current version's definition, compiled."""

    id: uuid.UUID
    name: str
    current_version: int
    priority: int
    enabled: bool
    builtin: bool
    definition: RuleDefinition
    predicate: Predicate
    grants_points: bool
    # Its conditions test the member's tags, which an earlier rule of the same event may change.
    reads_tags: bool
    # False for a draft in a dry run: nothing is stored under it, so it has no earlier firings.
    saved: bool = True


@dataclass(frozen=True)
class _Version:
    raw: dict[str, Any]
    definition: RuleDefinition
    predicate: Predicate
    grants_points: bool
    reads_tags: bool

    @classmethod
    def of(cls, raw: dict[str, Any], definition: RuleDefinition) -> _Version:
        conditions = definition.conditions
        return cls(
            raw,
            definition,
            compile_condition(conditions),
            grants_points=any(action.grant_points is not None for action in definition.actions),
            reads_tags=conditions is not None and any(leaf.field == "tags" for _, leaf in leaves(conditions, "")),
        )


_versions: dict[tuple[uuid.UUID, int], _Version] = {}
_triggers: dict[str, tuple[str, tuple[CompiledRule, ...]]] = {}


def compile_definition(definition: RuleDefinition, **row: Any) -> CompiledRule:
    """A definition with the facts of its rule row (or of a draft)."""
    return _compiled(_Version.of({}, definition), **row)


def _compiled(version: _Version, **row: Any) -> CompiledRule:
    return CompiledRule(
        definition=version.definition,
        predicate=version.predicate,
        grants_points=version.grants_points,
        reads_tags=version.reads_tags,
        **row,
    )


def _version(rule_id: uuid.UUID, version: int, raw: dict[str, Any]) -> _Version:
    """Versions never change once committed; the raw definition is compared anyway, so a version number
    reused after a rolled-back publish is parsed again rather than served from the cache."""
    found = _versions.get((rule_id, version))
    if found is None or found.raw != raw:
        found = _Version.of(raw, RuleDefinition.model_validate(raw))
        if len(_versions) >= _MAX_VERSIONS:
            _versions.clear()
        _versions[(rule_id, version)] = found
    return found


async def _load(session: AsyncSession, trigger: str) -> tuple[str, tuple[CompiledRule, ...]]:
    rows = (await session.execute(_LOAD, {"trigger": trigger})).mappings().all()
    compiled = []
    for row in rows:
        version = _version(row["id"], row["current_version"], row["definition"])
        facts = {name: row[name] for name in ("id", "name", "current_version", "priority", "enabled", "builtin")}
        compiled.append(_compiled(version, **facts))
    return (rows[0]["fingerprint"] if rows else ""), tuple(compiled)


async def rules_for(session: AsyncSession, trigger: str, *, include_disabled: bool = False) -> list[CompiledRule]:
    """The trigger's rules in evaluation order (priority, then name): one query when nothing changed."""
    fingerprint = (await session.execute(_CHECK, {"trigger": trigger})).scalar_one()
    cached = _triggers.get(trigger)
    if cached is None or cached[0] != fingerprint:
        cached = await _load(session, trigger)
        _triggers[trigger] = cached
    return [rule for rule in cached[1] if include_disabled or rule.enabled]
