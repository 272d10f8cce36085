"""Deterministic Temporal workflows. Every workflow the worker runs is listed in WORKFLOWS."""

from workflows.campaign import CampaignWorkflow
from workflows.daily_scan import DailyScanWorkflow
from workflows.journey import JourneyWorkflow
from workflows.ledger_maintenance import LedgerMaintenanceWorkflow
from workflows.redemption_approval import RedemptionApproval
from workflows.rule_message import RuleMessageWorkflow
from workflows.rule_scan import RuleScanWorkflow

WORKFLOWS = [
    JourneyWorkflow,
    LedgerMaintenanceWorkflow,
    DailyScanWorkflow,
    RedemptionApproval,
    CampaignWorkflow,
    RuleMessageWorkflow,
    RuleScanWorkflow,
]

__all__ = [
    "WORKFLOWS",
    "CampaignWorkflow",
    "DailyScanWorkflow",
    "JourneyWorkflow",
    "LedgerMaintenanceWorkflow",
    "RedemptionApproval",
    "RuleMessageWorkflow",
    "RuleScanWorkflow",
]
