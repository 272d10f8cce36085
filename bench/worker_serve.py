"""The worker process that bench/worker.py measures: the real worker (`worker.build_worker`, every workflow
and activity) or the raw loop's worker (only bench/sleeper.py), built with the Worker options of
`MEMBERFLOW_WORKER__*`. Runs until SIGTERM; prints `ready` once it polls.

    .venv/bin/python bench/worker_serve.py --role journey --address HOST:PORT --task-queue Q --database-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from rootworker import build_worker, worker_options
from sleeper import SleeperWorkflow
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.db import create_engine, create_session_factory
from core.settings import Settings, TemporalSettings, WorkerSettings
from core.temporal import connect


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=args.database_url,
        temporal=TemporalSettings(address=args.address, task_queue=args.task_queue),
        worker=WorkerSettings(sandbox=args.sandbox, max_cached_workflows=args.cache),
    )


async def serve(args: argparse.Namespace) -> None:
    settings = _settings(args)
    client = await connect(settings.temporal)
    engine = create_engine(settings, pool_size=10)
    if args.role == "raw":
        # The ceiling gets the same treatment as ours: its module passes through the sandbox too.
        options = worker_options(settings.worker)
        if args.sandbox == "pass_through":
            restrictions = SandboxRestrictions.default.with_passthrough_modules("sleeper")
            options["workflow_runner"] = SandboxedWorkflowRunner(restrictions=restrictions)
        worker = Worker(client, task_queue=args.task_queue, workflows=[SleeperWorkflow], **options)
    else:
        worker = build_worker(client, create_session_factory(engine), args.task_queue, settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        async with worker:
            print("ready", flush=True)
            await stop.wait()
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=["raw", "journey"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sandbox", choices=["pass_through", "strict"], default="pass_through")
    parser.add_argument("--cache", type=int, default=WorkerSettings().max_cached_workflows)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
