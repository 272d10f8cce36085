"""One recipe per state-changing console route: the change a person makes signed in to the console, and the
entry it must write (tests/platform/test_audit_trail.py)."""

from __future__ import annotations
