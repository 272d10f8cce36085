"""Privacy: erasure (the right to be forgotten) and export (access requests) of one member, both walking the
personal-data inventory (services.members.personal_data)."""

from services.privacy.erasure import ErasureOutcome, erase, stop_workflows
from services.privacy.export import export

__all__ = ["ErasureOutcome", "erase", "export", "stop_workflows"]
