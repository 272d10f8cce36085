"""Deterministic Temporal workflows. Every workflow the worker runs is listed in WORKFLOWS."""

from workflows.journey import JourneyWorkflow
from workflows.ledger_maintenance import LedgerMaintenanceWorkflow

WORKFLOWS = [JourneyWorkflow, LedgerMaintenanceWorkflow]

__all__ = ["WORKFLOWS", "JourneyWorkflow", "LedgerMaintenanceWorkflow"]
