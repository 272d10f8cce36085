"""Platform: what every domain stands on — the Temporal outbox, request idempotency, the audit log, API keys."""
