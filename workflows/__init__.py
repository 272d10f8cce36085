"""Deterministic Temporal workflows. The worker runs those listed in `workflows.registry.WORKFLOWS`; everyone
else talks to them through `workflows.contracts`. Kept empty, so importing the contract (or one workflow in
the sandbox) does not import every workflow and, through them, the activities and services."""
