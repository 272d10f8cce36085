"""The section of docs/benchmarks.md that bench/worker.py writes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from report import marks, write_section

SECTION = "worker-bench"


def _per_1000(mib: float, n: int) -> float:
    return mib / n * 1000 if n else 0.0


def _rows(results: list[Any]) -> list[str]:
    ceiling = next((r for r in results if r.phase.role == "raw"), None)
    rows = [
        "| worker | runs | start: worker CPU ms/run | RSS idle | RSS asleep | MiB per 1,000 asleep "
        "| timer firing: worker CPU ms/run | × raw loop | RSS after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        fire_ms = r.fire_cpu / r.n * 1000
        ratio = f"{fire_ms / (ceiling.fire_cpu / ceiling.n * 1000):.1f}" if ceiling and ceiling.fire_cpu else "–"
        rows.append(
            f"| {r.phase.label} | {r.n:,} | {r.start_cpu / r.n * 1000:.2f} | {r.rss_idle:.0f} MiB "
            f"| {r.rss_asleep:.0f} MiB | {_per_1000(r.rss_asleep - r.rss_idle, r.n):.1f} | {fire_ms:.2f} "
            f"| {ratio} | {r.rss_after:.0f} MiB |"
        )
    return rows


def _profile_rows(results: list[Any]) -> list[str]:
    profiled = [r for r in results if r.profile]
    if not profiled:
        return []
    names = list(profiled[0].profile)
    rows = [
        "py-spy on the worker, share of its samples from the first start until every timer fired:",
        "",
        "| worker | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    rows += [f"| {r.phase.label} | " + " | ".join(f"{r.profile[n]:.0%}" for n in names) + " |" for r in profiled]
    return [*rows, "", *_reading(results), ""]


def _reading(results: list[Any]) -> list[str]:
    """The profile and the figures in words, from this run's numbers."""
    strict = next((r for r in results if r.phase.sandbox == "strict"), None)
    shared = next((r for r in results if r.phase.role == "journey" and r.phase.sandbox == "pass_through"), None)
    small = next((r for r in results if r.phase.role == "journey" and r.phase.cache < r.n), None)
    lines = []
    if strict and shared and strict.profile and shared.profile:
        key = "SandboxedWorkflowRunner.create_instance"
        lines.append(
            f"What the profile shows: with the strict sandbox {strict.profile[key]:.0%} of the worker's samples "
            f"were in `create_instance` (re-importing `workflows.journey` and `workflows.common`, "
            f"{strict.profile.get('compiling source (source_to_code)', 0):.0%} compiling their source, as this "
            f"machine runs with PYTHONDONTWRITEBYTECODE=1); with the workflow modules passed through, "
            f"{shared.profile[key]:.0%}. What is left per run is the SDK's activation work, the local and "
            "regular activities' database writes and the gRPC round trips."
        )
    if shared and small:
        lines.append(
            f"A cached run woke for {shared.fire_cpu / shared.n * 1000:.1f} ms of worker CPU, an evicted one "
            f"for {small.fire_cpu / small.n * 1000:.1f} ms (its history replayed into a new instance); an "
            "evicted run costs no memory while it sleeps."
        )
    return lines


def write_report(results: list[Any], costs: dict[str, float], *, cpu: str, out: Path | None) -> str:
    start, end = marks(SECTION)
    lines = [
        start,
        "## Open journeys held by one worker",
        "",
        f"`make bench-worker` (`bench/worker.py`), {time.strftime('%Y-%m-%d')}, {cpu}.",
        "",
        "Creating one JourneyWorkflow instance (each new run, and each run replayed after eviction):",
        "",
        "| sandbox | µs per instance | × unsandboxed |",
        "| --- | ---: | ---: |",
    ]
    floor = costs.get("unsandboxed (ceiling)") or 1.0
    lines += [f"| {name} | {us:,.0f} | {us / floor:.1f} |" for name, us in costs.items()]
    lines += ["", *_rows(results), "", *_profile_rows(results), end]
    body = "\n".join(lines)
    if out is not None:
        write_section(out, body, SECTION)
    return body
