"""The fault drills' stack: PostgreSQL, the Temporal dev server (file database), one worker and N single-process
API servers, each started by the drill itself so that it can kill or restart any one of them.

`memberflow dev` cannot serve here: its supervisor stops everything as soon as one child dies, which is the
right thing for a developer and the wrong thing for a drill. This starts the same parts the same way (the
embedded PostgreSQL and Temporal classes, `cli worker`, `cli api`), with SMTP pointed at the drill's aiosmtpd
sink, and keeps each part's output in its own log file in a throw-away folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sink import Sink, start_sink

from core.migrate import upgrade
from devstack.embedded import EmbeddedPostgres, TemporalDevServer, free_port, port_in_use

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    """One process of ours (worker or API), restartable; `starts` counts how often it was started."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", *self.command],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs, as when a machine loses power."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class FaultStack:
    """Everything a drill kills and restarts. `apis` API servers on ports of their own (no shared socket), so
    one can be killed while another answers."""

    folder: Path
    apis: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    admin_key: str = field(default_factory=lambda: f"drill-admin-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.postgres = EmbeddedPostgres(self.folder / "pg", free_port(), logs / "postgres.log")
        self.temporal = TemporalDevServer(self.folder / "temporal.db", free_port(), None, logs / "temporal.log")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")},
            "MEMBERFLOW_DATABASE_URL": self.postgres.url(),
            "MEMBERFLOW_TEMPORAL__ADDRESS": self.temporal.address,
            "MEMBERFLOW_ADMIN_KEY": self.admin_key,
            "MEMBERFLOW_SECRET_KEY": uuid.uuid4().hex,
            "MEMBERFLOW_API__WORKERS": "1",
            **self.extra_env,
        }
        self.worker = Child("worker", ["worker"], env, logs / "worker.log")
        self.api: list[Child] = []
        self.api_ports: list[int] = []
        for i in range(self.apis):
            port = free_port()
            self.api_ports.append(port)
            self.api.append(Child(f"api{i}", ["api"], {**env, "MEMBERFLOW_API__PORT": str(port)}, logs / f"api{i}.log"))

    def url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.api_ports[i]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.apis)]

    def start(self) -> None:
        self.postgres.start()
        self.postgres.ensure_database("memberflow")
        self.temporal.start()
        upgrade(self.postgres.url())
        for api in self.api:
            api.start()
        for i in range(self.apis):
            self.wait_api(i)
        self.start_worker()

    def wait_api(self, i: int, timeout: float = 120) -> float:
        """Until API `i` answers /readyz with 200; returns the seconds it took."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if not self.api[i].alive():
                raise SystemExit(f"{self.api[i].name} exited; see {self.api[i].log_path}")
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(f"{self.url(i)}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - began
            time.sleep(0.1)
        raise SystemExit(f"{self.api[i].name} was not ready within {timeout:.0f} s; see {self.api[i].log_path}")

    def restart_api(self, i: int, attempts: int = 10) -> float:
        """Start API `i` again on its port, which a just-killed process's connections (or another program's
        outgoing one) may hold a moment longer: retried until it binds. Returns the seconds until ready."""
        began = time.monotonic()
        for _ in range(attempts):
            while port_in_use(self.api_ports[i]) and time.monotonic() - began < 60:
                time.sleep(0.2)
            self.api[i].start()
            with contextlib.suppress(SystemExit):
                self.wait_api(i)
                return time.monotonic() - began
            time.sleep(1.0)
        raise SystemExit(f"{self.api[i].name} did not start again; see {self.api[i].log_path}")

    def start_worker(self, timeout: float = 120) -> float:
        """Start the worker and wait until it polls its task queue; returns the seconds that took."""
        began = time.monotonic()
        mark = self.worker.log_path.stat().st_size if self.worker.log_path.exists() else 0
        self.worker.start()
        while time.monotonic() - began < timeout:
            with self.worker.log_path.open("rb") as log:
                log.seek(mark)
                if b"worker polling task queue" in log.read():
                    return time.monotonic() - began
            if not self.worker.alive():
                raise SystemExit(f"the worker exited during start-up; see {self.worker.log_path}")
            time.sleep(0.1)
        raise SystemExit(f"the worker did not poll within {timeout:.0f} s; see {self.worker.log_path}")

    def restart_postgres(self, down: float) -> float:
        """Fast shutdown (every connection is cut), `down` seconds away, start again; returns the outage."""
        began = time.monotonic()
        self.postgres.stop()
        time.sleep(max(0.0, began + down - time.monotonic()))
        self.postgres.start()
        return time.monotonic() - began

    def stop(self) -> None:
        """Everything we started, in reverse order; safe to call twice."""
        for child in (self.worker, *self.api):
            child.stop()
        self.temporal.stop()
        self.postgres.stop()

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of a query against the drill's database (tab-free values), for the checks."""
        text = self.postgres.psql(sql.replace("\n", " "), database="memberflow")
        return [line.split("|") for line in text.splitlines() if line]

    def scalar(self, sql: str) -> int:
        rows = self.psql(sql)
        return int(rows[0][0]) if rows and rows[0][0] else 0


@contextlib.contextmanager
def fault_stack(apis: int = 1, email_rate: float = 1000.0) -> Iterator[tuple[FaultStack, Sink]]:
    """A started FaultStack sending email to an aiosmtpd sink run in this process; everything stopped after."""
    folder = Path(tempfile.mkdtemp(prefix="mf-fault-"))
    smtp_port = free_port()
    sink, controller = start_sink(smtp_port)
    stack = FaultStack(
        folder,
        apis=apis,
        extra_env={
            "MEMBERFLOW_MESSAGING__SMTP_HOST": "127.0.0.1",
            "MEMBERFLOW_MESSAGING__SMTP_PORT": str(smtp_port),
            "MEMBERFLOW_MESSAGING__SMTP_STARTTLS": "false",
            "MEMBERFLOW_MESSAGING__EMAIL_RATE_PER_SECOND": str(email_rate),
        },
    )
    try:
        stack.start()
        yield stack, sink
    finally:
        stack.stop()
        controller.stop()
