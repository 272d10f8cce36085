"""What bench/worker.py reads of the worker and server processes: CPU and RSS through /proc, and the SDK's own
metrics from the worker's Prometheus port."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

# The SDK's metrics read: its sticky cache, and the workflow tasks it has run (a raw run takes one to fall
# asleep: how far the worker has caught up with the starts).
TASKS = "workflow_task_execution_latency_count"
CACHE_METRICS = (
    "sticky_cache_size",
    "sticky_cache_hit",
    "sticky_cache_miss",
    "sticky_cache_total_forced_eviction",
    TASKS,
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def cache_metrics(port: int) -> dict[str, float]:
    """The SDK's sticky-cache metrics, summed over their labels (0 for one not yet reported)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
    found = dict.fromkeys(CACHE_METRICS, 0.0)
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        name = name.split(" ")[0].removeprefix("temporal_")
        if name in found and not line.startswith("#"):
            found[name] += float(line.rsplit(" ", 1)[1])
    return found
