"""Where a benchmark's CPU goes: the processes of a `memberflow dev` stack grouped by role (API processes, worker,
Temporal dev server, PostgreSQL, the load generator itself), their CPU seconds sampled before and after a phase.

The 2-core machine is shared by all of them, so a request's latency depends as much on what the others burn as
on its own work; this split says which part is which, in CPU milliseconds per request."""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil

ROLES = ("API", "worker", "Temporal", "PostgreSQL", "load generator")


def _role(proc: psutil.Process, api_pids: set[int]) -> str | None:
    try:
        name = proc.name()
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if proc.pid in api_pids:
        return "API"
    if "temporal" in name:
        return "Temporal"
    if name.startswith("postgres") or "/postgres" in cmdline:
        return "PostgreSQL"
    if "cli worker" in cmdline:
        return "worker"
    return None


def api_processes(root_pid: int) -> list[int]:
    """The API's request-serving processes: the children of `cli api` (uvicorn's workers), or `cli api` itself
    when it serves alone."""
    root = psutil.Process(root_pid)
    for proc in root.children(recursive=True):
        try:
            if "cli api" in " ".join(proc.cmdline()):
                workers = proc.children()
                return [w.pid for w in workers] or [proc.pid]
        except psutil.NoSuchProcess:
            continue
    return []


@dataclass
class Split:
    """CPU seconds per role between `start` and `stop`."""

    root_pid: int
    api_pids: set[int]
    before: dict[int, tuple[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        me = psutil.Process()
        procs = [*psutil.Process(self.root_pid).children(recursive=True), me]
        for proc in procs:
            role = "load generator" if proc.pid == me.pid else _role(proc, self.api_pids)
            if role is None:
                continue
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            found[proc.pid] = (role, times.user + times.system)
        return found

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        self.seconds = dict.fromkeys(ROLES, 0.0)
        for pid, (role, after) in self._sample().items():
            self.seconds[role] += after - self.before.get(pid, (role, 0.0))[1]
        return self.seconds
