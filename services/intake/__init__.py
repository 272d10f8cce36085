"""Intake: what comes in from the shop — orders and events — and the transaction that fans each out to the
ledger, tiers, rules and journeys; also the start-up seeding of every domain's built-ins."""
