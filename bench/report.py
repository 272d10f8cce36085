"""What every benchmark script shares: the machine's CPU name, a timestamped log line, and rewriting its own
marked section of docs/benchmarks.md (other sections are left as they are)."""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

PREAMBLE = (
    "# Benchmarks\n\n"
    "Measured by the scripts in `bench/` against the same machine's own ceilings (pgbench, the raw "
    "Temporal start rate), on a fresh embedded server each run. Each section is rewritten by its "
    "script; numbers from different machines are not comparable.\n"
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def marks(name: str) -> tuple[str, str]:
    """The comment lines that fence a script's section, e.g. `<!-- ledger-bench:start -->`."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(out: Path, body: str, name: str) -> None:
    """Put `body` (which starts and ends with the section's marks) in place of the section, or append it."""
    start, end = marks(name)
    text = out.read_text() if out.exists() else PREAMBLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: body, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
