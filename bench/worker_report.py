"""The section of docs/benchmarks.md that bench/worker.py writes, with its reading of the figures (the plateau,
the extrapolation to 100,000 runs) computed from the run's own samples."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from report import marks, write_section

SECTION = "worker-bench"
TARGET_RUNS = 100_000
BATCH_FLOOR = 500  # the first sample is after one batch of starts


def _ms(seconds: float, n: int) -> float:
    return seconds / n * 1000 if n else 0.0


def _rows(results: list[Any]) -> list[str]:
    ceiling = next((r for r in results if r.phase.role == "raw"), None)
    ceiling_ms = _ms(ceiling.fire_cpu, ceiling.fired) if ceiling else 0.0
    rows = [
        "| worker | runs | started /s | start: worker CPU ms/run | RSS idle | RSS, all asleep | runs cached "
        "| timers fired in | fired /s | firing: worker CPU ms/run | × raw loop | server CPU ms/run "
        "| replayed (cache misses) | RSS after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        grown = (
            f"| {r.phase.label} | {r.n:,} | {r.n / r.start_seconds:.0f} | {_ms(r.start_cpu, r.n):.2f} "
            f"| {r.rss_idle:.0f} MiB | {r.rss_asleep:.0f} MiB | {r.cache_asleep:,.0f} "
        )
        if not r.phase.fire:
            rows.append(grown + "| – " * 7 + "|")
            continue
        fire_ms = _ms(r.fire_cpu, r.fired)
        ratio = f"{fire_ms / ceiling_ms:.1f}" if ceiling_ms else "–"
        rows.append(
            grown + f"| {r.fire_seconds:.0f} s | {r.fired / max(r.fire_seconds, 1.0):.0f} | {fire_ms:.2f} | {ratio} "
            f"| {_ms(r.fire_server_cpu, r.fired):.2f} | {r.fire_misses:,.0f} | {r.rss_after:.0f} MiB |"
        )
    return rows


def _at(samples: list[Any], count: int) -> Any:
    """The first sample at or past `count` started runs (None if the phase stopped short of it)."""
    return next((s for s in samples if s.count >= count), None)


def _growth(results: list[Any], runs: int) -> list[str]:
    """Worker RSS (and the runs its cache held) at every tenth of the runs started, per phase."""
    steps = [runs * k // 10 for k in range(1, 11)]
    rows = [
        "Worker RSS as the sleeping runs grow (runs held in the sticky cache in brackets), sampled after each "
        "batch of 500 starts:",
        "",
        "| worker | " + " | ".join(f"{s:,}" for s in steps) + " |",
        "| --- |" + " ---: |" * len(steps),
    ]
    for r in results:
        cells = [_at(r.growth, s) if s <= r.n else None for s in steps]
        shown = [f"{c.rss:.0f} ({c.cache['sticky_cache_size']:,.0f})" if c else "–" for c in cells]
        rows.append(f"| {r.phase.label} | " + " | ".join(shown) + " |")
    return rows


def _slope(samples: list[Any], low: int, high: int) -> float | None:
    """MiB of RSS per 1,000 more sleeping runs between the samples at `low` and `high` started."""
    inside = [s for s in samples if low <= s.count <= high]
    if len(inside) < 2 or inside[-1].count == inside[0].count:
        return None
    return (inside[-1].rss - inside[0].rss) / (inside[-1].count - inside[0].count) * 1000


def _reading(results: list[Any]) -> list[str]:
    """The plateau and the extrapolation in words, from this run's samples."""
    lines = []
    for r in results:
        if r.phase.role != "journey":
            continue
        cache, n = r.phase.cache, r.n
        below = _slope(r.growth, BATCH_FLOOR, min(cache, n))
        above = _slope(r.growth, cache + BATCH_FLOOR, n) if n >= cache + 2 * BATCH_FLOOR else None
        if above is None:
            lines.append(
                f"- {r.phase.label}: {n:,} runs never filled the cache of {cache:,}, so no plateau was measured"
                + (f" ({below:.0f} MiB per 1,000 cached runs)." if below is not None else ".")
            )
            continue
        projected = r.rss_asleep + max(above, 0.0) * (TARGET_RUNS - n) / 1000
        lines.append(
            f"- {r.phase.label}: {below or 0:.0f} MiB per 1,000 runs while the cache filled, then "
            f"{above:.1f} MiB per 1,000 from {cache + BATCH_FLOOR:,} to {n:,} runs (the cache held "
            f"{r.cache_asleep:,.0f}): the plateau. Extrapolated from that measured slope, {TARGET_RUNS:,} sleeping "
            f"runs would hold about {projected:.0f} MiB ({'under' if projected < 1024 else 'over'} 1 GiB); "
            "this figure is an extrapolation, not a measurement."
        )
    return lines


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
    return rows + [f"| {r.phase.label} | " + " | ".join(f"{r.profile[n]:.0%}" for n in names) + " |" for r in profiled]


def write_report(results: list[Any], costs: dict[str, float], *, cpu: str, runs: int, out: Path | None) -> str:
    start, end = marks(SECTION)
    lines = [
        start,
        "## Open journeys held by one worker",
        "",
        f"`make bench-worker` (`bench/worker.py --runs {runs}`), {time.strftime('%Y-%m-%d')}, {cpu}, on a "
        "file-backed dev server with `make run`'s flags. Each phase starts its runs (a journey: wait, then exit), "
        "samples the worker while they grow, then lets every timer fire in one burst.",
        "",
        "Creating one JourneyWorkflow instance (each new run, and each run replayed after eviction):",
        "",
        "| sandbox | µs per instance | × unsandboxed |",
        "| --- | ---: | ---: |",
    ]
    floor = costs.get("unsandboxed (ceiling)") or 1.0
    lines += [f"| {name} | {us:,.0f} | {us / floor:.1f} |" for name, us in costs.items()]
    lines += ["", *_rows(results), "", *_growth(results, runs), "", *_reading(results), ""]
    early = [r for r in results if r.woke_early]
    lines += [
        f"- {r.phase.label}: {r.woke_early:,} runs woke before the burst was metered (left out of its figures)."
        for r in early
    ]
    lines += [*([""] if early else []), *_profile_rows(results), *([""] if any(r.profile for r in results) else [])]
    lines.append(end)
    body = "\n".join(lines)
    if out is not None:
        write_section(out, body, SECTION)
    return body
