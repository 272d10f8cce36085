"""Rules: IF trigger AND conditions THEN actions; definitions, evaluation, built-in awards."""

from services.rules.engine import (
    RuleEvent,
    evaluate_event,
)
from services.rules.samples import SampleEvent, sample_facts
from services.rules.service import (
    DefinitionFilter,
    check,
    create,
    dry_run,
    firings,
    firings_of_event,
    get_rule,
    get_version,
    list_rules,
    ordered_since,
    parse,
    publish,
    require_valid,
    scan_due,
    seed_builtins,
    set_enabled,
    stored,
    versions,
)

__all__ = [
    "DefinitionFilter",
    "RuleEvent",
    "SampleEvent",
    "check",
    "create",
    "dry_run",
    "evaluate_event",
    "firings",
    "firings_of_event",
    "get_rule",
    "get_version",
    "list_rules",
    "ordered_since",
    "parse",
    "publish",
    "require_valid",
    "sample_facts",
    "scan_due",
    "seed_builtins",
    "set_enabled",
    "stored",
    "versions",
]
