"""The worker process that bench/worker.py measures: the real worker (`worker.build_worker`, every workflow
and activity) or the raw loop's worker (only bench/sleeper.py), built with the Worker options of
`MEMBERFLOW_WORKER__*`. Runs until SIGTERM; prints `ready` once it polls. With `--metrics-port` the SDK's own
metrics (the sticky cache's size, hits, misses and forced evictions among them) are served for Prometheus there,
so the benchmark reads what the worker holds instead of assuming it.

    .venv/bin/python bench/worker_serve.py --role journey --address HOST:PORT --task-queue Q --database-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from rootworker import build_worker, worker_options
from sleeper import SleeperWorkflow
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.db import create_engine, create_session_factory
from core.settings import Settings, TemporalSettings, WorkerSettings
from core.temporal import data_converter


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=args.database_url,
        temporal=TemporalSettings(address=args.address, task_queue=args.task_queue),
        worker=WorkerSettings(sandbox=args.sandbox, max_cached_workflows=args.cache),
    )


async def serve(args: argparse.Namespace) -> None:
    settings = _settings(args)
    runtime = None
    if args.metrics_port:
        metrics = PrometheusConfig(bind_address=f"127.0.0.1:{args.metrics_port}")
        runtime = Runtime(telemetry=TelemetryConfig(metrics=metrics))
    client = await Client.connect(args.address, data_converter=data_converter(settings.temporal), runtime=runtime)
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
    parser.add_argument("--metrics-port", type=int, default=0, help="serve the SDK's metrics here (0: none)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
