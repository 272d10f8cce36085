"""Where a drill's time goes: CPU seconds per part of `memberflow dev` (the Temporal dev server, PostgreSQL, the
worker, the API processes) over a phase, and py-spy's busiest functions in the worker and the API."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil

ROLES = ("temporal", "postgres", "worker", "api")


def role(proc: psutil.Process) -> str | None:
    """Which part of the stack a process of `memberflow dev` is (None: the dev launcher itself)."""
    try:
        name, cmdline = proc.name(), " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if name.startswith("temporal"):
        return "temporal"
    if name.startswith("postgres"):
        return "postgres"
    if "cli worker" in cmdline or cmdline.endswith(" worker"):
        return "worker"
    if " dev" in cmdline and "cli" in cmdline:
        return None
    return "api"


def processes(root: int) -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = {r: [] for r in ROLES}
    for proc in psutil.Process(root).children(recursive=True):
        kind = role(proc)
        if kind is not None:
            found[kind].append(proc)
    return found


def cpu_seconds(root: int) -> dict[str, float]:
    """User + system CPU seconds so far, per role (processes that ended since are not counted)."""
    totals = dict.fromkeys(ROLES, 0.0)
    for kind, procs in processes(root).items():
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            totals[kind] += times.user + times.system
    return totals


class Profile:
    """py-spy (raw collapsed stacks, 50 Hz) on the worker and every API process while a phase runs. `--gil`: only
    the thread holding the GIL is sampled, so threads parked in a pool or a pipe (uvicorn's ping thread, the
    worker's activity executor) do not fill the profile with waiting."""

    def __init__(self, root: int, folder: Path) -> None:
        spy = str(Path(sys.executable).with_name("py-spy"))
        found = processes(root)
        leaves = [p for p in found["api"] if not p.children()] or found["api"]
        self.outputs: dict[str, list[Path]] = {"worker": [], "api": []}
        self.procs: list[subprocess.Popen[bytes]] = []
        for kind, procs in (("worker", found["worker"]), ("api", leaves)):
            for proc in procs:
                out = folder / f"spy-{kind}-{proc.pid}.txt"
                cmd = [
                    spy,
                    "record",
                    "--gil",
                    "--format",
                    "raw",
                    "--rate",
                    "50",
                    "--pid",
                    str(proc.pid),
                    "-o",
                    str(out),
                ]
                self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                self.outputs[kind].append(out)

    def stop(self) -> dict[str, list[tuple[str, float]]]:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            proc.wait(timeout=60)
        return {kind: top(paths) for kind, paths in self.outputs.items()}


# Frames every stack passes through (the event loop, threads, process start): they say nothing about where.
_GENERIC = ("threading.py", "thread.py", "base_events.py", "runners.py", "events.py", "selectors.py", "_compat.py")


def _frame(frame: str) -> str:
    """`function (path/to/module.py:12)` -> `function (module.py)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def top(paths: list[Path], n: int = 8, *, depth: int = 6) -> list[tuple[str, float]]:
    """The functions most often on the stack (share of samples, 0-1), counting each once per sample, among the
    innermost `depth` frames of our code and the libraries: where the process spent its time, not `main`."""
    total, hits = 0, Counter[str]()
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [f for f in stack.split(";") if "(" in f and not f.split(":")[0].endswith(_GENERIC)]
            total += int(count)
            for name in {_frame(f) for f in frames[-depth:]}:
                hits[name] += int(count)
    return [(name, hit / total) for name, hit in hits.most_common(n)] if total else []
