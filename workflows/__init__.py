"""Deterministic Temporal workflows. Every workflow the worker runs is listed in WORKFLOWS."""

from workflows.journey import JourneyWorkflow

WORKFLOWS = [JourneyWorkflow]

__all__ = ["WORKFLOWS", "JourneyWorkflow"]
