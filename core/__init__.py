"""Cross-cutting foundations: settings, database, Temporal client, errors, logging. Imports nothing of ours."""
