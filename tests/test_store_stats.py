"""Statistics of a hand-made history, exact to the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from store_helpers import Backend, backend, pg_url, postgres  # noqa: F401
from twdsl.runtime.store import Store
from twdsl.runtime.store.stats import failure_reason, percentile

D1 = 1_699_920_000.0  # 2023-11-14 00:00:00 UTC
D2 = D1 + 86_400.0  # 2023-11-15
AGENT_EXIT = {"kind": "agent", "message": "exit 1", "task": "compile"}


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    s = backend.open(flush_interval=None)
    run = _run_maker(s)
    run("r1", "build", D1 + 10, "completed", 10.0)
    run("r2", "build", D1 + 30, "failed", 20.0, AGENT_EXIT)
    run("r3", "build", D2 + 5, "failed", 30.0, AGENT_EXIT)
    run("r4", "build", D2 + 6, "timeout", 40.0)
    run("r5", "build", D2 + 7, "running", None)
    run("r6", "build", D2 + 8, "cancelled", 1.0)
    run("d1", "deploy", D2 + 9, "completed", 3.0)
    task = _task_maker(s)
    task("r1", "compile", "completed", 1.0, 3.0)
    task("r1", "test", "completed", 3.0, 7.0)
    task("r2", "compile", "completed", 31.0, 33.0)
    task("r2", "test", "failed", 33.0, 34.0, {"kind": "validation", "message": "bad"})
    task("r3", "compile", "failed", 0.0, 5.0, {"kind": "agent", "message": "exit 1"})
    task("r3", "test", "skipped", None, None)
    task("r4", "compile", "timeout", 0.0, 30.0, {"kind": "timeout", "message": "after 30s"})
    task("d1", "push", "completed", 0.0, 3.0)
    yield s
    s.close()


def _run_maker(s: Store) -> Any:
    def run(rid: str, workflow: str, created: float, status: str, duration: float | None,
            error: object = None) -> None:
        s.create_run(rid, workflow, status="running", created_at=created)
        s.update_run(rid, status=status, started_at=created,
                     finished_at=None if duration is None else created + duration, error=error)
    return run


def _task_maker(s: Store) -> Any:
    def task(rid: str, name: str, status: str, start: float | None, end: float | None,
             error: object = None) -> None:
        s.set_task(rid, f"{name}", status, task=name, started_at=start, finished_at=end,
                   error=error)
    return task


def test_stats_of_every_workflow(store: Store) -> None:
    got = store.stats()
    assert [w["workflow"] for w in got["workflows"]] == ["build", "deploy"]
    build = got["workflows"][0]
    p95 = build["duration"].pop("p95")
    assert p95 == pytest.approx(38.0, abs=1e-9)  # 30 + 0.8 * (40 - 30)
    assert build == {
        "workflow": "build",
        "runs": 6,
        "statuses": {"cancelled": 1, "completed": 1, "failed": 2, "running": 1, "timeout": 1},
        "success_rate": 0.2,  # 1 completed of 5 ended
        "duration": {"mean": 20.2, "p50": 20.0},  # of [1, 10, 20, 30, 40]
        "failures": [{"reason": "agent: exit 1", "count": 2},
                     {"reason": "timeout", "count": 1}],
        "per_day": [
            {"day": "2023-11-14", "runs": 2, "statuses": {"completed": 1, "failed": 1}},
            {"day": "2023-11-15", "runs": 4,
             "statuses": {"cancelled": 1, "failed": 1, "running": 1, "timeout": 1}},
        ],
        "tasks": build["tasks"],
    }
    compile_, test = build["tasks"]
    assert compile_.pop("duration") == pytest.approx(
        {"mean": 9.75, "p50": 3.5, "p95": 26.25})  # of [2, 2, 5, 30]
    assert compile_ == {
        "task": "compile", "runs": 4,
        "statuses": {"completed": 2, "failed": 1, "timeout": 1},
        "success_rate": 0.5,
        "failures": [{"reason": "agent: exit 1", "count": 1},
                     {"reason": "timeout: after 30s", "count": 1}],
    }
    assert test.pop("duration") == pytest.approx({"mean": 2.5, "p50": 2.5, "p95": 3.85})
    assert test == {
        "task": "test", "runs": 2,  # the skipped one did not run
        "statuses": {"completed": 1, "failed": 1, "skipped": 1},
        "success_rate": 0.5,
        "failures": [{"reason": "validation: bad", "count": 1}],
    }
    deploy = got["workflows"][1]
    assert (deploy["runs"], deploy["success_rate"], deploy["duration"], deploy["failures"],
            deploy["per_day"]) == (1, 1.0, {"mean": 3.0, "p50": 3.0, "p95": 3.0}, [],
                                   [{"day": "2023-11-15", "runs": 1,
                                     "statuses": {"completed": 1}}])
    assert [t["task"] for t in deploy["tasks"]] == ["push"]


def test_stats_of_one_workflow_since_a_time(store: Store) -> None:
    got = store.stats("build", since=D2)
    (build,) = got["workflows"]
    assert (build["runs"], build["statuses"], build["success_rate"]) == (
        4, {"cancelled": 1, "failed": 1, "running": 1, "timeout": 1}, 0.0)
    assert [(t["task"], t["statuses"]) for t in build["tasks"]] == [
        ("compile", {"failed": 1, "timeout": 1}), ("test", {"skipped": 1})]
    assert build["tasks"][1]["success_rate"] is None  # nothing ended
    assert build["tasks"][1]["duration"] is None
    assert store.stats("nothing") == {"workflows": []}


def test_top_limits_the_failure_reasons(store: Store) -> None:
    (build,) = store.stats("build", top=1)["workflows"]
    assert build["failures"] == [{"reason": "agent: exit 1", "count": 2}]


def test_percentile_and_reasons() -> None:
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1.0, 3.0], 0.5) == 2.0
    with pytest.raises(ValueError):
        percentile([], 0.5)
    assert failure_reason("failed", {"message": "only a message"}) == "only a message"
    assert failure_reason("failed", "a string error") == "a string error"
    assert failure_reason("timeout", None) == "timeout"
