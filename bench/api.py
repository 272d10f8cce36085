"""Member 360 reads through the memberflow API against a bare FastAPI + asyncpg endpoint that runs the same one
statement on the same database, in the same run, both driven by wrk with 16 connections.

Starts a throw-away embedded PostgreSQL, creates members with orders, ledger lines and messages through the
services, then starts `memberflow api` (one process, the product's own app: auth, middleware, settings) and
`bench/bare360.py` (one process) side by side, and alternates them for a few rounds. Writes a section of
docs/benchmarks.md. Needs `wrk` (Debian package; `make bench-api` installs it when it can).

    .venv/bin/python bench/api.py [--seconds 15] [--rounds 2] [--connections 16] [--members 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from report import log, marks, write_section

from core.db import create_engine, create_session_factory
from core.migrate import upgrade
from core.settings import Settings
from devstack.embedded import EmbeddedPostgres, free_port, stop_process
from services.intake import bootstrap, orders, signups
from services.intake.orders import OrderCreate
from services.members import MemberCreate
from services.platform import api_keys

ROOT = Path(__file__).resolve().parent.parent
SECTION = "api-bench"
START_MARK, END_MARK = marks(SECTION)
TARGET_RATIO, TARGET_P99_MS = 0.6, 30.0


@dataclass
class Result:
    name: str
    rate: float
    p50: float
    p99: float
    errors: int
    cpu_ms: float  # server process CPU per request


async def _seed(url: str, members: int) -> tuple[list[uuid.UUID], str]:
    """Members with three orders each (orders, ledger lines) and a points account; an integration key."""
    engine = create_engine(Settings(database_url=url), pool_size=4)
    sessions = create_session_factory(engine)
    ids: list[uuid.UUID] = []
    async with sessions() as session:
        await bootstrap.seed(session)
        issued = await api_keys.create(session, name="bench", role=api_keys.Role.INTEGRATION)
        await session.commit()
    for index in range(members):
        async with sessions() as session:
            member = await signups.register(
                session,
                MemberCreate(external_id=f"bench-{index}", name="Bench Member", email=f"m{index}@example.com"),
                source="bench",
                task_queue="bench",
            )
            for number in range(3):
                await orders.ingest(
                    session,
                    OrderCreate(
                        external_id=f"bench-{index}-{number}",
                        member_id=member.id,
                        amount=Decimal("129.90"),
                        currency="CNY",
                        status="completed",
                        placed_at=datetime(2026, 1, 1 + number, 10, 30, tzinfo=UTC),
                        items=[{"sku": "TEA-001", "name": "Oolong", "quantity": 2, "unit_price": "64.95"}],
                    ),
                    task_queue="bench",
                )
            await session.commit()
            ids.append(member.id)
    await engine.dispose()
    return ids, issued.secret


def _wait(url: str, headers: dict[str, str], proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"cannot read wrk's latency {text!r}")
    number, unit = match.groups()
    return float(number) * _UNITS[unit]


def _wrk(port: int, script: Path, connections: int, seconds: float) -> tuple[float, float, float, int]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Requests/sec" not in out or "50%" not in out:
        raise SystemExit(f"wrk gave no figures:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    distribution = out.split("Latency Distribution", 1)[1]
    p50 = _millis(re.search(r"^\s+50%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    p99 = _millis(re.search(r"^\s+99%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return rate, p50, p99, errors


def _script(folder: Path, ids: list[uuid.UUID], secret: str) -> Path:
    path = folder / "member360.lua"
    listed = ",".join(f'"{member_id}"' for member_id in ids)
    path.write_text(
        f"local ids = {{{listed}}}\n"
        f'local headers = {{["Authorization"] = "Bearer {secret}"}}\n'
        "request = function()\n"
        '  return wrk.format("GET", "/api/v1/members/" .. ids[math.random(#ids)], headers)\n'
        "end\n"
    )
    return path


def _measure(name: str, port: int, pid: int, script: Path, args: argparse.Namespace) -> Result:
    _wrk(port, script, args.connections, 3)  # warm-up
    cpu = _cpu_seconds(pid)
    rate, p50, p99, errors = _wrk(port, script, args.connections, args.seconds)
    cpu_ms = (_cpu_seconds(pid) - cpu) * 1000 / max(rate * args.seconds, 1)
    log(f"{name:10s} {rate:8.0f}/s p50 {p50:5.1f} ms p99 {p99:5.1f} ms errors {errors} cpu {cpu_ms:.2f} ms/req")
    return Result(name, rate, p50, p99, errors, cpu_ms)


def run(args: argparse.Namespace) -> list[tuple[Result, Result]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench-api does it when run as root)")
    root = Path(tempfile.mkdtemp(prefix="mf-api-bench-"))
    server = EmbeddedPostgres(root / "data", free_port(), root / "postgres.log")
    server.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server.ensure_database("bench")
        url = server.url("bench")
        upgrade(url)
        log(f"seeding {args.members} members with 3 orders each")
        ids, secret = asyncio.run(_seed(url, args.members))
        script = _script(root, ids, secret)
        app_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "MEMBERFLOW_DATABASE_URL": url,
            "MEMBERFLOW_DATABASE_POOL_SIZE": str(args.connections),
            "MEMBERFLOW_API__PORT": str(app_port),
            "MEMBERFLOW_API__WORKERS": "1",
            "MEMBERFLOW_TEMPORAL__ADDRESS": "127.0.0.1:1",  # the 360 never touches Temporal
            "BARE360_DSN": url.replace("+asyncpg", ""),
            "BARE360_POOL": str(args.connections),
            "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
        }
        app = subprocess.Popen([sys.executable, "-m", "cli", "api"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        procs.append(app)
        bare_cmd = ["-m", "uvicorn", "bare360:app", "--port", str(bare_port), "--log-level", "warning"]
        bare = subprocess.Popen([sys.executable, *bare_cmd, "--no-access-log"], cwd=ROOT / "bench", env=env)
        procs.append(bare)
        probe = f"/api/v1/members/{ids[0]}"
        _wait(f"http://127.0.0.1:{app_port}{probe}", {"Authorization": f"Bearer {secret}"}, app)
        _wait(f"http://127.0.0.1:{bare_port}{probe}", {}, bare)
        if args.profile:
            _profile(app, app_port, script, args)
        pairs = []
        for _ in range(args.rounds):
            ceiling = _measure("bare", bare_port, bare.pid, script, args)
            ours = _measure("memberflow", app_port, app.pid, script, args)
            pairs.append((ceiling, ours))
        return pairs
    finally:
        for proc in procs:
            stop_process(proc, timeout=10)
        server.stop()


def _profile(app: subprocess.Popen[bytes], port: int, script: Path, args: argparse.Namespace) -> None:
    """A py-spy profile of the API process under the same load, saved to --profile (flame graph SVG)."""
    spy_bin = str(Path(sys.executable).parent / "py-spy")
    spy = subprocess.Popen([spy_bin, "record", "-o", str(args.profile), "--pid", str(app.pid), "-d", "12", "-r", "200"])
    _wrk(port, script, args.connections, 12)
    spy.wait(60)
    log(f"profile written to {args.profile}")


def write(path: Path, pairs: list[tuple[Result, Result]], args: argparse.Namespace) -> None:
    rows = []
    for ceiling, ours in pairs:
        for result in (ceiling, ours):
            rows.append(
                f"| {result.name} | {result.rate:,.0f} | {result.p50:.1f} | {result.p99:.1f} | {result.cpu_ms:.2f} "
                f"| {result.errors} | {result.rate / ceiling.rate:.2f} |"
            )
    ratio = min(ours.rate / ceiling.rate for ceiling, ours in pairs)
    p99 = max(ours.p99 for _, ours in pairs)
    bare_p99 = max(ceiling.p99 for ceiling, _ in pairs)
    met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
    body = "\n".join(
        [
            START_MARK,
            "## Member 360 reads vs a bare one-statement endpoint",
            "",
            f"Run `make bench-api` (`bench/api.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPUs, "
            f"embedded PostgreSQL (default settings), Python {platform.python_version()}; 1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end (other work shared the machine: compare rows of one run).",
            "",
            f"- `GET /api/v1/members/{{id}}` over {args.members} members (3 orders, their ledger lines, a points "
            f"account each), random member per request, wrk with {args.connections} connections and 2 threads on "
            f"the same machine, {args.seconds:g} s per point after 3 s of warm-up, the two servers alternating.",
            "- **memberflow**: `memberflow api`, one process, the product's app (API key auth through the key "
            f"cache, the middleware, the route), database pool {args.connections}. **bare**: `bench/bare360.py`, "
            "FastAPI on an asyncpg pool of the same size running the same statement "
            "(`services.analytics.member360.VIEW_SQL`), no auth, no middleware. Both under uvicorn, one process.",
            "- CPU ms/request is the server process's own CPU (user + system) over the window, divided by requests.",
            "",
            "| server | requests/s | p50 ms | p99 ms | server CPU ms/request | errors | ÷ bare (same round) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Target: ≥ {TARGET_RATIO} × bare with p99 < {TARGET_P99_MS:g} ms: **{'met' if met else 'not met'}** "
            f"(lowest ratio {ratio:.2f}, highest p99 {p99:.1f} ms; the bare endpoint's highest p99 in the same "
            f"run {bare_p99:.1f} ms).",
            END_MARK,
        ]
    )
    write_section(path, body, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--profile", type=Path, help="also record a py-spy flame graph of the API (SVG path)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    pairs = run(args)
    write(args.out, pairs, args)


if __name__ == "__main__":
    main()
