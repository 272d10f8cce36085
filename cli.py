"""The `memberflow` command: dev (the whole embedded stack), api, worker, migrate, keys, import, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from core.logging import configure_logging
from core.settings import Settings, get_settings


def _cmd_dev(_: argparse.Namespace) -> int:
    from devstack.stack import run_dev_stack

    return run_dev_stack(get_settings())


def _cmd_api(_: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    settings.require_database_url()
    configure_logging(settings.log_level, json_lines=settings.log_json, prefix="api ")
    workers = settings.api.worker_count()
    common = {
        "host": settings.api.host,
        "port": settings.api.port,
        "log_level": settings.log_level.lower(),
        "log_config": None,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.api.trusted_proxies,
        "access_log": settings.api.access_log,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    else:
        # Several processes on one listening socket; uvicorn's supervisor stops them all on SIGINT/SIGTERM.
        print(f"api: starting {workers} processes on port {settings.api.port}", file=sys.stderr, flush=True)
        uvicorn.run("cli:api_process_app", factory=True, workers=workers, **common)  # type: ignore[arg-type]
    return 0


def api_process_app() -> Any:
    """The app of one API process among several (uvicorn starts each with a fresh interpreter)."""
    from api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json, prefix=f"api[{os.getpid()}] ")
    return create_app(settings)


def _cmd_worker(_: argparse.Namespace) -> int:
    import worker

    settings = get_settings()
    settings.require_database_url()
    configure_logging(settings.log_level, json_lines=settings.log_json, prefix="worker ")
    asyncio.run(worker.run(settings))
    return 0


def _cmd_migrate(_: argparse.Namespace) -> int:
    from core.migrate import upgrade

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    upgrade(settings.require_database_url())
    print("database is at the latest migration")
    return 0


def _database_url_for_tools(settings: Settings) -> str:
    """Admin commands default to the embedded database of `memberflow dev` when no URL is set."""
    if settings.database_url:
        return settings.database_url
    return f"postgresql+asyncpg://postgres@127.0.0.1:{settings.dev.postgres_port}/memberflow"


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise argparse.ArgumentTypeError("a whole number of days from 1 to 3650")
    return int(value)


def _cmd_keys_create(args: argparse.Namespace) -> int:
    from core.db import create_engine, create_session_factory
    from services.platform import api_keys

    settings = get_settings().model_copy(update={"database_url": _database_url_for_tools(get_settings())})

    expires_at = datetime.now(UTC) + timedelta(days=args.expires_days) if args.expires_days else None

    async def create() -> api_keys.IssuedKey:
        engine = create_engine(settings, pool_size=1)
        try:
            async with create_session_factory(engine)() as session:
                issued = await api_keys.create(
                    session,
                    name=args.name,
                    role=api_keys.Role(args.role),
                    source="cli",
                    expires_at=expires_at,
                    personal_data=args.personal_data,
                )
                await session.commit()
                return issued
        finally:
            await engine.dispose()

    try:
        issued = asyncio.run(create())
    except OSError as exc:
        print(f"error: cannot reach the database: {exc}", file=sys.stderr)
        return 1
    print(f"created {issued.key.role} key {issued.key.name!r} (id {issued.key.id})")
    if expires_at is not None:
        print(f"expires: {expires_at:%Y-%m-%d %H:%M} UTC")
    print(f"key: {issued.secret}")
    print("Store it now: it is not shown again.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from core.db import create_engine, create_session_factory
    from devstack import demo

    settings = get_settings().model_copy(update={"database_url": _database_url_for_tools(get_settings())})
    options = demo.DemoOptions(
        members=args.members,
        seed=args.seed,
        years=args.years,
        concurrency=args.concurrency,
        processes=args.processes,
        task_queue=settings.temporal.task_queue,
    )

    async def run() -> None:
        engine = create_engine(settings, pool_size=options.concurrency + 1)
        try:
            await demo.generate(create_session_factory(engine), options, database_url=settings.database_url)
        finally:
            await engine.dispose()

    years = "a year" if options.years == 1 else f"{options.years} years"
    print(f"demo data: {options.members:,} members over {years} (seed {options.seed})", flush=True)
    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"error: cannot reach the database (is `make run` running?): {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.db import create_engine, create_session_factory
    from core.errors import AppError
    from devstack import importer

    settings = get_settings().model_copy(update={"database_url": _database_url_for_tools(get_settings())})
    files = importer.ImportFiles(
        members=Path(args.members) if args.members else None,
        orders=Path(args.orders) if args.orders else None,
        events=Path(args.events) if args.events else None,
    )
    if not files.given():
        print("error: give at least one of --members, --orders, --events", file=sys.stderr)
        return 2

    async def run() -> int:
        engine = create_engine(settings, pool_size=2)
        try:
            return await importer.run(
                create_session_factory(engine),
                files,
                task_queue=settings.temporal.task_queue,
                chunk_rows=args.chunk_rows,
                wait=not args.no_wait,
                errors_to=Path(args.errors) if args.errors else None,
            )
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _positive(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit:,}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memberflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "dev", help="run embedded Postgres, Temporal dev server, worker and API (Ctrl-C stops all)"
    ).set_defaults(func=_cmd_dev)
    sub.add_parser("api", help="run the HTTP API").set_defaults(func=_cmd_api)
    sub.add_parser("worker", help="run the Temporal worker and the outbox relay").set_defaults(func=_cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key and print it once")
    create.add_argument("--role", required=True, choices=["admin", "marketer", "approver", "ops", "integration"])
    create.add_argument("--name", required=True)
    create.add_argument("--expires-days", type=_days, metavar="DAYS", help="expire after DAYS (1-3650)")
    create.add_argument(
        "--personal-data",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="may reveal unmasked personal data (default: admin keys only)",
    )
    create.set_defaults(func=_cmd_keys_create)
    imp = sub.add_parser(
        "import", help="import members, orders and events (CSV or JSONL) as history: no journey, no message"
    )
    imp.add_argument("--members", help="members file (.csv or .jsonl)")
    imp.add_argument("--orders", help="orders file (.csv or .jsonl)")
    imp.add_argument("--events", help="behaviour events file (.csv or .jsonl)")
    imp.add_argument("--chunk-rows", type=_positive(20_000), default=5_000, help="rows per chunk (5000)")
    imp.add_argument("--errors", help="where to write the bad rows (import-<id>-errors.csv)")
    imp.add_argument("--no-wait", action="store_true", help="queue the import and return")
    imp.set_defaults(func=_cmd_import)
    demo = sub.add_parser(
        "demo", help="fill the database with a demo brand (members, two years of orders, ...); safe to re-run"
    )
    demo.add_argument("--members", type=_positive(1_000_000), default=10_000, help="how many members (10000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed: the same seed gives the same brand")
    demo.add_argument("--years", type=_positive(5), default=2, help="years of history (2)")
    demo.add_argument("--concurrency", type=_positive(32), default=4, help="database sessions per process (4)")
    demo.add_argument(
        "--processes", type=_positive(16), default=min(os.cpu_count() or 1, 4), help="importing processes (CPUs, ≤4)"
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except RuntimeError as exc:  # configuration errors carry a message meant for the operator
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
