"""`memberflow dev`: the embedded stack in one command.

Starts PostgreSQL and the Temporal dev server, applies migrations, then runs the worker and the API as
child processes, prints where everything is, and on Ctrl-C (or SIGTERM, or any child dying) stops them all
in reverse order. Children run in their own sessions so that only this supervisor receives the terminal's
Ctrl-C and the shutdown order holds."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

from core.migrate import upgrade
from core.settings import Settings
from devstack.embedded import (
    EmbeddedError,
    EmbeddedPostgres,
    TemporalDevServer,
    lower_priority,
    port_in_use,
    stop_process,
)

PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    """Raised by the signal handler to unwind into the shutdown sequence."""


def _die_with_parent() -> None:
    """Children of ours get SIGTERM if the supervisor itself is killed, so nothing is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _child_setup(nice: int) -> Callable[[], None]:
    """Die with the supervisor, and run `nice` levels below it (the worker: DevSettings.background_nice)."""
    lower = lower_priority(nice)

    def setup() -> None:
        _die_with_parent()
        if lower is not None:
            lower()

    return setup


def _say(text: str = "") -> None:
    print(text, flush=True)


def _lock(data_dir: Path) -> IO[str]:
    handle = open(data_dir / "dev.lock", "w")  # noqa: SIM115 - held for the supervisor's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise EmbeddedError(f"another `memberflow dev` is already running on {data_dir}") from None
    return handle


def _admin_key(settings: Settings, data_dir: Path) -> str:
    """The dev admin key: MEMBERFLOW_ADMIN_KEY if set, else one generated once and kept in the data folder."""
    if settings.admin_key is not None:
        return settings.admin_key.get_secret_value()
    path = data_dir / "admin-key"
    if path.exists():
        return path.read_text().strip()
    key = "mf_dev_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _secret_key(settings: Settings, data_dir: Path) -> str:
    """The key that signs unsubscribe links: MEMBERFLOW_SECRET_KEY if set, else one kept in the data folder."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _wait_ready(url: str, children: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise EmbeddedError(f"the {name} exited with code {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")[:300]
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise EmbeddedError(f"the API was not ready within {timeout:.0f} s: {last}")


def _processes(count: int) -> str:
    cpus = os.cpu_count() or 1
    return f"{count} process{'es' if count != 1 else ''} for {cpus} CPU{'s' if cpus != 1 else ''}"


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """The API's own processes (uvicorn workers) share its process group: make sure none outlives it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_dev_stack(settings: Settings) -> int:
    data_dir = settings.dev.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    try:
        lock = _lock(data_dir)
    except EmbeddedError as exc:
        _say(f"error: {exc}")
        return 1

    external_db = settings.database_url is not None
    ports = {
        "API": (settings.api.host if settings.api.host != "0.0.0.0" else "127.0.0.1", settings.api.port),
        "Temporal frontend": ("127.0.0.1", settings.dev.temporal_port),
        "Temporal Web UI": ("127.0.0.1", settings.dev.temporal_ui_port),
    }
    if not external_db:
        ports["PostgreSQL"] = ("127.0.0.1", settings.dev.postgres_port)
    taken = [f"{name} port {port}" for name, (host, port) in ports.items() if port_in_use(port, host)]
    if taken:
        _say(
            f"error: {'; '.join(taken)} already in use by another process. Stop it, or choose other ports with "
            "MEMBERFLOW_API__PORT, MEMBERFLOW_DEV__TEMPORAL_PORT, MEMBERFLOW_DEV__TEMPORAL_UI_PORT, "
            "MEMBERFLOW_DEV__POSTGRES_PORT."
        )
        return 1

    def on_signal(signum: int, _: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    postgres = EmbeddedPostgres(data_dir / "pg", settings.dev.postgres_port, logs / "postgres.log")
    temporal = TemporalDevServer(
        data_dir / "temporal.db",
        settings.dev.temporal_port,
        settings.dev.temporal_ui_port,
        logs / "temporal.log",
        nice=settings.dev.background_nice,
    )
    children: dict[str, subprocess.Popen[bytes]] = {}
    code = 0
    started = time.monotonic()
    try:
        if external_db:
            database_url = settings.require_database_url()
            _say("using the database at MEMBERFLOW_DATABASE_URL")
        else:
            _say(f"starting PostgreSQL (data in {postgres.data_dir})")
            postgres.start()
            postgres.ensure_database("memberflow")
            database_url = postgres.url()
        _say(f"starting the Temporal dev server (state in {temporal.db_file})")
        temporal.start()
        _say("applying database migrations")
        upgrade(database_url)
        env = {
            **os.environ,
            "MEMBERFLOW_DATABASE_URL": database_url,
            "MEMBERFLOW_TEMPORAL__ADDRESS": temporal.address,
            "MEMBERFLOW_TEMPORAL__UI_URL": temporal.ui_url or "",
            "MEMBERFLOW_ADMIN_KEY": _admin_key(settings, data_dir),
            "MEMBERFLOW_SECRET_KEY": _secret_key(settings, data_dir),
        }
        api_processes = settings.api.worker_count()
        env["MEMBERFLOW_API__WORKERS"] = str(api_processes)
        for name, command, nice in (("worker", "worker", settings.dev.background_nice), ("API", "api", 0)):
            children[name] = subprocess.Popen(
                [sys.executable, "-m", "cli", command],
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_child_setup(nice),
            )
        api_url = f"http://{ports['API'][0]}:{settings.api.port}"
        _wait_ready(f"{api_url}/readyz", children, timeout=120)
        _say("")
        _say(f"memberflow is ready ({time.monotonic() - started:.1f} s)")
        _say(f"  API         {api_url}   (reference: {api_url}/docs; {_processes(api_processes)})")
        _say(f"  Console     {api_url}/console")
        _say(f"  Temporal UI {temporal.ui_url}")
        _say(f"  Database    {database_url.replace('+asyncpg', '')}")
        _say(f"  Admin key   {env['MEMBERFLOW_ADMIN_KEY']}")
        _say(f"  Logs        {logs}")
        _say("Press Ctrl-C to stop.")
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    raise EmbeddedError(f"the {name} exited unexpectedly with code {proc.returncode}")
            if temporal.proc is not None and temporal.proc.poll() is not None:
                raise EmbeddedError(f"the Temporal dev server exited; see {temporal.log_path}")
            if postgres.proc is not None and postgres.proc.poll() is not None:
                raise EmbeddedError(f"PostgreSQL exited; see {postgres.log_path}")
            time.sleep(0.5)
    except _Stop as stop:
        _say(f"\nreceived {stop}, stopping")
    except EmbeddedError as exc:
        _say(f"error: {exc}")
        code = 1
    finally:
        # Further Ctrl-C presses must not interrupt the orderly shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name in ("API", "worker"):
            if name in children:
                stop_process(children[name], sig=signal.SIGTERM, timeout=20)
                _stop_group(children[name])
        temporal.stop()
        postgres.stop()
        lock.close()
        _say("stopped")
    return code
