"""`memberflow dev` as a user runs it: start, use, Ctrl-C, nothing left running, data kept for the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.embedded import free_port
from tests.support.scratch_dir import server_dir

pytestmark = pytest.mark.slow


class DevStack:
    def __init__(self, repo_root: Path, data_dir: Path) -> None:
        self.repo_root = repo_root
        self.data_dir = data_dir
        self.api_port = free_port()
        self.admin_key = f"test-admin-{uuid.uuid4().hex}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")},
            "MEMBERFLOW_DEV__DATA_DIR": str(data_dir),
            "MEMBERFLOW_API__PORT": str(self.api_port),
            "MEMBERFLOW_DEV__TEMPORAL_PORT": str(free_port()),
            "MEMBERFLOW_DEV__TEMPORAL_UI_PORT": str(free_port()),
            "MEMBERFLOW_DEV__POSTGRES_PORT": str(free_port()),
            "MEMBERFLOW_ADMIN_KEY": self.admin_key,
        }
        self.log_path = data_dir.parent / f"dev-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "dev"],
                cwd=self.repo_root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.proc

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"dev stack exited early:\n{self.log()}"
            if "memberflow is ready" in self.log():
                response = httpx.get(f"{self.url}/readyz", timeout=5)
                assert response.status_code == 200, response.text
                return
            time.sleep(0.3)
        raise AssertionError(f"dev stack not ready within {timeout} s:\n{self.log()}")

    def interrupt(self) -> list[psutil.Process]:
        """Ctrl-C as a terminal sends it (SIGINT to the foreground group); returns processes that survived."""
        assert self.proc is not None
        tree = psutil.Process(self.proc.pid).children(recursive=True)
        assert len(tree) >= 4, [p.name() for p in tree]  # postgres, temporal, worker, API (and their helpers)
        os.killpg(self.proc.pid, signal.SIGINT)
        assert self.proc.wait(60) == 0, self.log()
        _, alive = psutil.wait_procs(tree, timeout=10)
        return alive

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}


@pytest.fixture
def stack(repo_root: Path) -> Iterator[DevStack]:
    with server_dir("dev-stack") as root:  # not tmp_path: see tests/support/scratch_dir.py
        dev = DevStack(repo_root, root / "data")
        yield dev
        if dev.proc is not None and dev.proc.poll() is None:
            os.killpg(dev.proc.pid, signal.SIGTERM)
            dev.proc.wait(60)


def test_dev_stack_serves_stops_cleanly_and_keeps_data(stack: DevStack) -> None:
    stack.start()
    stack.wait_ready()
    log = stack.log()
    assert f"{stack.url}/docs" in log
    assert f"{stack.url}/console" in log
    assert "Temporal UI http://127.0.0.1:" in log
    # One API process per CPU, all of them stopped by the Ctrl-C below (interrupt() checks none survives).
    cpus = len(os.sched_getaffinity(0))
    assert f"docs; {cpus} process{'es' if cpus != 1 else ''} for" in log

    member = httpx.post(
        f"{stack.url}/api/v1/members",
        headers=stack.headers(),
        timeout=10,
        json={
            "external_id": "dev-e2e-1",
            "name": "Chen Jing",
            "email": "chen@example.com",
            "consent": {"email": True, "sms": True},
        },
    )
    assert member.status_code == 201, member.text
    member_id = member.json()["id"]
    order = httpx.post(
        f"{stack.url}/api/v1/orders",
        headers=stack.headers(),
        timeout=10,
        json={
            "external_id": "dev-e2e-o1",
            "member_id": member_id,
            "amount": "88.80",
            "currency": "CNY",
            "placed_at": "2026-03-01T12:00:00+08:00",
        },
    )
    assert order.status_code == 201, order.text
    view = httpx.get(f"{stack.url}/api/v1/members/{member_id}", headers=stack.headers(), timeout=10).json()
    assert view["points"] == {"posted": 88, "held": 0, "available": 88, "debt": 0}
    assert view["lifetime_spend"] == "88.80"

    assert stack.interrupt() == []

    stack.start()  # a second run finds the data of the first
    stack.wait_ready()
    again = httpx.get(f"{stack.url}/api/v1/members/{member_id}", headers=stack.headers(), timeout=10).json()
    assert again["points"]["posted"] == 88
    assert again["order_count"] == 1
    assert stack.interrupt() == []


def test_dev_stack_refuses_a_taken_port_and_names_it(stack: DevStack) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", stack.api_port))
        blocker.listen()
        proc = stack.start()
        assert proc.wait(60) == 1
    assert f"API port {stack.api_port} already in use" in stack.log()
    assert not (stack.data_dir / "pg").exists()  # nothing was started
