"""py-spy on the benchmark's worker process: record collapsed stacks while a phase runs, then say what share
of the samples fell in a few functions of interest (the sandbox's instance creation, its imports)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

# What to look for: (function, a part of its file's path) of one frame in a sample's stack.
WATCHED = {
    "SandboxedWorkflowRunner.create_instance": ("create_instance", "workflow_sandbox/_runner.py"),
    "sandbox imports (Importer._import)": ("_import", "workflow_sandbox/_importer.py"),
    "compiling source (source_to_code)": ("source_to_code", "importlib"),
}


def _has(stack: str, function: str, path: str) -> bool:
    """A frame reads `Class.function (path:line)`."""
    for frame in stack.split(";"):
        name, _, where = frame.partition(" (")
        if (name == function or name.endswith("." + function)) and path in where:
            return True
    return False


class Recorder:
    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        binary = shutil.which("py-spy") or str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "py-spy")
        cmd = [binary, "record", "--format", "raw", "--rate", "100", "--pid", str(pid), "-o", str(out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, float]:
        """Stop recording; the share of samples (0-1) in each WATCHED function, and in all."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        return shares(self.out)


def shares(collapsed: Path) -> dict[str, float]:
    total, hits = 0, dict.fromkeys(WATCHED, 0)
    if not collapsed.exists():
        return {}
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for name, (function, path) in WATCHED.items():
            if _has(stack, function, path):
                hits[name] += int(count)
    return {name: hit / total for name, hit in hits.items()} if total else {}
