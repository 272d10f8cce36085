"""Deterministic Temporal workflows. Every workflow the worker runs is listed in WORKFLOWS."""

from workflows.daily_scan import DailyScanWorkflow
from workflows.journey import JourneyWorkflow
from workflows.ledger_maintenance import LedgerMaintenanceWorkflow
from workflows.redemption_approval import RedemptionApproval

WORKFLOWS = [JourneyWorkflow, LedgerMaintenanceWorkflow, DailyScanWorkflow, RedemptionApproval]

__all__ = ["WORKFLOWS", "DailyScanWorkflow", "JourneyWorkflow", "LedgerMaintenanceWorkflow", "RedemptionApproval"]
