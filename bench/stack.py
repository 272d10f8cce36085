"""`memberflow dev` as a benchmark or drill drives it: started on free ports in a throw-away folder, with extra
MEMBERFLOW_* settings, and the Temporal backlog gauges read back from /metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from devstack.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


class Stack:
    """`memberflow dev` on free ports in a temporary folder; `extra_env` adds settings (e.g. SMTP)."""

    def __init__(self, folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.api_port, self.temporal_port = free_port(), free_port()
        self.admin_key = f"bench-admin-{uuid.uuid4().hex}"
        self.log_path = folder / "dev.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")},
            "MEMBERFLOW_DEV__DATA_DIR": str(folder / "data"),
            "MEMBERFLOW_API__PORT": str(self.api_port),
            "MEMBERFLOW_DEV__TEMPORAL_PORT": str(self.temporal_port),
            "MEMBERFLOW_DEV__TEMPORAL_UI_PORT": str(free_port()),
            "MEMBERFLOW_DEV__POSTGRES_PORT": str(free_port()),
            "MEMBERFLOW_ADMIN_KEY": self.admin_key,
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def start(self, timeout: float = 180) -> str:
        """Start and wait for readiness; returns the API's process count line (e.g. "2 processes for 2 CPUs")."""
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "dev"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if "memberflow is ready" in text:
                found = re.search(r"API .*docs; (\d+ process\w* for \d+ CPUs?)", text)
                return found.group(1) if found else "?"
            if self.proc.poll() is not None:
                raise SystemExit(f"memberflow dev exited:\n{text[-3000:]}")
            time.sleep(0.5)
        raise SystemExit("memberflow dev was not ready in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(90)


def gauge(text: str, name: str) -> float:
    """One sample of a Prometheus text exposition, NaN when absent."""
    found = re.search(rf"^{re.escape(name)} ([\d.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else float("nan")


def backlog(metrics: str) -> tuple[int, int, float]:
    """Queued outbox starts, queued signals, and the oldest one's age in seconds, from /metrics."""
    return (
        int(gauge(metrics, 'memberflow_temporal_outbox_queued{kind="start"}')),
        int(gauge(metrics, 'memberflow_temporal_outbox_queued{kind="signal"}')),
        gauge(metrics, "memberflow_temporal_outbox_oldest_age_seconds"),
    )


def order_body(member_id: str, number: int) -> dict[str, object]:
    """A completed order of the member's, unique per (member, number)."""
    return {
        "external_id": f"bench-{member_id}-{number}",
        "member_id": member_id,
        "amount": "129.90",
        "currency": "CNY",
        "status": "completed",
        "placed_at": datetime.now(UTC).isoformat(),
        "items": [{"sku": "TEA-001", "name": "Oolong", "quantity": 2, "unit_price": "64.95"}],
    }


def task_queue_backlog(metrics: str, task_queue: str, kind: str) -> tuple[float, float]:
    """Tasks of `kind` (workflow, activity) waiting on one task queue and the oldest one's age, NaN when Temporal
    could not say (memberflow_temporal_up 0)."""
    labels = f'{{kind="{kind}",task_queue="{task_queue}"}}'
    return (
        gauge(metrics, f"memberflow_temporal_task_queue_backlog{labels}"),
        gauge(metrics, f"memberflow_temporal_task_queue_backlog_age_seconds{labels}"),
    )


def journeys_not_begun(metrics: str) -> tuple[float, float]:
    """Journeys delivered to Temporal but not at their first step, and the oldest one's wait in seconds."""
    return gauge(metrics, "memberflow_journeys_not_begun"), gauge(
        metrics, "memberflow_journeys_not_begun_oldest_age_seconds"
    )
