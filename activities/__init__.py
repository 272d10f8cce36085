"""Temporal activities: thin adapters from a workflow step to a service call."""
