"""The journey canvas's data: every built-in definition as nodes with one-line summaries and labelled edges (the
routes the workflow follows), and the live counts per step computed in SQL over journey runs in Postgres."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import journeys
from services.journeys.builtins import BUILTIN_JOURNEYS
from services.journeys.definition import Definition, successors
from tests.support.journey_runs import record_run


def _builtin(kind: str) -> Definition:
    return Definition.model_validate(next(d for d in BUILTIN_JOURNEYS if d["kind"] == kind))


def test_the_welcome_journey_is_one_node_per_step_with_its_summary_and_labelled_edges() -> None:
    drawn = journeys.graph(_builtin("welcome"))
    assert [(n.id, n.kind, n.summary) for n in drawn.nodes] == [
        ("welcome_message", "send", "Email · welcome + coupon new_member_10"),
        ("story_delay", "wait", "Wait 24 h"),
        ("brand_story", "send", "Email · brand_story"),
        ("wait_first_purchase", "wait_for", "Wait for order_completed · 6 d"),
        ("reminder", "send", "SMS · first_purchase_reminder"),
        ("done", "exit", "Exit"),
    ]
    assert [(e.source, e.label, e.target) for e in drawn.edges] == [
        ("welcome_message", "next", "story_delay"),
        ("story_delay", "next", "brand_story"),
        ("brand_story", "next", "wait_first_purchase"),
        ("wait_first_purchase", "on_event", "done"),
        ("wait_first_purchase", "on_timeout", "reminder"),
        ("reminder", "next", "done"),
    ]


def test_a_branch_has_then_and_else_edges_and_says_its_condition() -> None:
    drawn = journeys.graph(_builtin("win_back"))
    branch = next(n for n in drawn.nodes if n.kind == "branch")
    assert branch.summary == "If lifetime_spend > 5000"
    assert {(e.label, e.target) for e in drawn.edges if e.source == branch.id} == {
        ("then", "flag_pre_churn"),
        ("else", "miss_you"),
    }
    flag = next(n for n in drawn.nodes if n.kind == "flag")
    assert flag.summary == "Set pre_churn"


def test_every_builtin_draws_every_step_and_every_route() -> None:
    for raw in BUILTIN_JOURNEYS:
        definition = Definition.model_validate(raw)
        drawn = journeys.graph(definition)
        assert [n.id for n in drawn.nodes] == [s.id for s in definition.steps], raw["kind"]
        assert all(n.summary for n in drawn.nodes), raw["kind"]
        routes = successors(definition)
        assert len(drawn.edges) == sum(len(targets) for targets in routes.values()), raw["kind"]
        assert {e.label for e in drawn.edges} <= {"next", "on_event", "on_timeout", "then", "else"}


def test_summaries_of_the_other_step_kinds() -> None:
    definition = Definition.model_validate(
        {
            "kind": "every_kind",
            "name": "Every kind",
            "steps": [
                {"id": "quiet", "wait": {"days": 1, "minutes": 30, "until_local_time": "09:00"}},
                {"id": "morning", "wait": {"until_local_time": "10:00"}},
                {"id": "points", "grant_points": {"points": 1500, "reason": "thank you"}},
                {"id": "coupon", "issue_coupon": {"template": "birthday_20"}},
                {"id": "call", "create_task": {"title": "Call the member", "assignee_role": "ops"}},
                {"id": "tags", "tag": {"add": ["vip"], "remove": ["lapsed"]}},
                {"id": "unflag", "flag": {"clear": "pre_churn"}},
                {
                    "id": "check",
                    "branch": {
                        "if": {
                            "any": [{"field": "tier", "op": "in", "value": ["gold"]}, {"field": "tags", "op": "exists"}]
                        },
                        "then": "done",
                        "else": "done",
                    },
                },
                {"id": "done", "exit": {}},
            ],
        }
    )
    assert [n.summary for n in journeys.graph(definition).nodes] == [
        "Wait 1 d 30 min, then until 09:00",
        "Until 10:00",
        "+1,500 points · thank you",
        "Coupon birthday_20",
        "Task for ops: Call the member",
        "+vip −lapsed",
        "Clear pre_churn",
        "If any of 2 conditions",
        "Exit",
    ]


async def test_step_counts_say_who_is_at_each_step_who_passed_and_who_ended_there(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kind = f"counts_{uuid.uuid4().hex[:8]}"
    other = f"counts_{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        await record_run(session, kind, ["welcome_message", "story_delay"])
        await record_run(session, kind, ["welcome_message", "story_delay"])
        await record_run(session, kind, ["welcome_message", "story_delay", "brand_story", "wait_first_purchase"])
        await record_run(session, kind, ["welcome_message", "story_delay", "brand_story"], ending="exited")
        await record_run(session, kind, ["welcome_message", "story_delay", "brand_story", "done"], ending="completed")
        await record_run(session, other, ["welcome_message"])  # another journey counts nowhere here
        await session.commit()
        counts = await journeys.step_counts(session, kind)
        assert await journeys.step_counts(session, f"none_{uuid.uuid4().hex[:8]}") == {}
    assert counts == {
        "welcome_message": journeys.StepCounts(now=0, passed=5, ended=0),
        "story_delay": journeys.StepCounts(now=2, passed=5, ended=0),
        "brand_story": journeys.StepCounts(now=0, passed=3, ended=1),
        "wait_first_purchase": journeys.StepCounts(now=1, passed=1, ended=0),
        "done": journeys.StepCounts(now=0, passed=1, ended=1),
    }


async def test_the_runs_listed_at_a_step_are_the_runs_its_counts_count(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kind = f"listing_{uuid.uuid4().hex[:8]}"
    paths: list[tuple[list[str], str | None]] = [
        (["welcome_message", "story_delay"], None),
        (["welcome_message", "story_delay"], None),
        (["welcome_message", "story_delay", "brand_story", "wait_first_purchase"], None),
        (["welcome_message", "story_delay", "brand_story"], "exited"),
        (["welcome_message", "story_delay", "brand_story"], "failed"),
        (["welcome_message", "story_delay", "brand_story", "done"], "completed"),
        (["welcome_message", "story_delay", "cancelled"], "cancelled"),
    ]
    async with sessions() as session:
        for path, ending in paths:
            await record_run(session, kind, path, ending=ending)
        await record_run(session, f"other_{uuid.uuid4().hex[:8]}", ["welcome_message"])
        await session.commit()
        counts = await journeys.step_counts(session, kind)
        for step in ["welcome_message", "story_delay", "brand_story", "wait_first_purchase", "done", "reminder"]:
            for measure in journeys.MEASURES:
                listed = await journeys.runs_at_step(session, kind, step, measure, limit=100)
                expected = getattr(counts.get(step, journeys.StepCounts()), measure)
                assert len(listed) == expected, (step, measure)
                assert len({r.run.run_id for r in listed}) == expected
                assert all(r.run.kind == kind for r in listed)
        # The measures mean what the canvas says: running there, through there, ended there.
        assert counts["brand_story"] == journeys.StepCounts(now=0, passed=4, ended=2)
        now = await journeys.runs_at_step(session, kind, "story_delay", "now", limit=100)
        assert {r.run.status for r in now} == {"running"}
        assert len(now) == 2
        ended = await journeys.runs_at_step(session, kind, "brand_story", "ended", limit=100)
        assert {r.run.status for r in ended} == {"exited", "failed"}
        with pytest.raises(ValueError, match="now, passed, ended"):
            await journeys.runs_at_step(session, kind, "brand_story", "stuck", limit=10)


async def test_runs_at_a_step_come_newest_first_in_keyset_pages_with_when_they_reached_and_left_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kind = f"paging_{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        ids = [await record_run(session, kind, ["a", "b"]) for _ in range(5)]  # started one after another
        await session.commit()
        seen: list[str] = []
        after = None
        while True:
            page = await journeys.runs_at_step(session, kind, "a", "passed", limit=2, after=after)
            seen += [r.run.run_id for r in page]
            if len(page) < 2:
                break
            after = (page[-1].run.started_at, page[-1].run.run_id)
        assert seen == list(reversed(ids))
        first = (await journeys.runs_at_step(session, kind, "a", "passed", limit=1))[0]
        assert first.external_id is None
        assert first.name is None
        assert first.reached_at == first.run.started_at
        assert first.left_at is not None
        assert first.left_at > first.reached_at
        at_b = (await journeys.runs_at_step(session, kind, "b", "now", limit=1))[0]
        assert at_b.reached_at == first.left_at
        assert at_b.left_at is None
