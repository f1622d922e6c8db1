"""Metrics from events: exact values after synthetic runs (read back from the registry), and
the exposition endpoint served on a free port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from twdsl.runtime.events import Event
from twdsl.runtime.metrics import MetricsSink, serve_metrics


def value(sink: MetricsSink, name: str, **labels: str) -> float | None:
    return sink.registry.get_sample_value(name, labels)


def task(type: str, run: str, key: str, ts: float, attempt: int | None = None,
         **data: object) -> Event:
    return Event(type, run, key=key, task=key.split("[")[0], node=key, attempt=attempt,
                 data=dict(data), ts=ts)


def test_a_run_with_retries_failures_skips_and_cache_hits() -> None:
    m = MetricsSink()
    m.emit(Event("workflow.started", "r1", data={"workflow": "W"}, ts=10.0))
    m.emit(task("task.queued", "r1", "a", 10.0, 1))
    m.emit(task("task.queued", "r1", "b", 10.0, 1))
    assert value(m, "twdsl_queue_depth", workflow="W") == 2
    assert value(m, "twdsl_executions_active", workflow="W") == 1
    m.emit(task("task.started", "r1", "a", 10.0, 1))
    m.emit(task("task.started", "r1", "b", 10.0, 1))
    assert (value(m, "twdsl_queue_depth", workflow="W"),
            value(m, "twdsl_tasks_running", workflow="W")) == (0, 2)
    m.emit(task("task.retried", "r1", "a", 11.0, 1, error={"kind": "timeout"}))
    m.emit(task("task.queued", "r1", "a", 11.5, 2))
    m.emit(task("task.started", "r1", "a", 12.0, 2))
    m.emit(task("task.completed", "r1", "a", 12.5, 2, duration=2.5))
    m.emit(task("task.failed", "r1", "b", 10.75, 1, error={"kind": "agent"}, handled=True))
    m.emit(task("task.skipped", "r1", "c", 13.0, reason="when is false"))
    m.emit(task("task.cached", "r1", "d", 13.0, result=1))
    m.emit(task("task.started", "r1", "e[0]", 13.0, 1))
    m.emit(task("task.skipped", "r1", "e[0]", 14.0, error={"kind": "agent"}))  # on_error: skip
    m.emit(Event("workflow.completed", "r1", status="completed", ts=14.0))

    assert value(m, "twdsl_executions_total", workflow="W", status="completed") == 1
    assert value(m, "twdsl_executions_active", workflow="W") == 0
    assert value(m, "twdsl_success_rate", workflow="W") == 1.0
    assert (value(m, "twdsl_queue_depth", workflow="W"),
            value(m, "twdsl_tasks_running", workflow="W")) == (0, 0)
    attempts = {(t, s): value(m, "twdsl_task_attempts_total", workflow="W", task=t, status=s)
                for t in "abcde" for s in ("completed", "failed", "timeout", "cancelled")}
    assert {k: v for k, v in attempts.items() if v is not None} == {
        ("a", "timeout"): 1, ("a", "completed"): 1, ("b", "failed"): 1, ("e", "failed"): 1}
    # durations: a from its data (2.5), b and e from their first start (0.75, 1.0);
    # c (not run) and d (a cache hit) are not observed
    durations = {t: (value(m, "twdsl_task_duration_seconds_count", workflow="W", task=t),
                     value(m, "twdsl_task_duration_seconds_sum", workflow="W", task=t))
                 for t in "abcde"}
    assert durations == {"a": (1, 2.5), "b": (1, 0.75), "c": (None, None),
                         "d": (None, None), "e": (1, 1.0)}
    assert value(m, "twdsl_task_duration_seconds_bucket", workflow="W", task="a",
                 le="2.5") == 1
    assert value(m, "twdsl_task_duration_seconds_bucket", workflow="W", task="a",
                 le="1.0") == 0
    assert m.runs == {}


def test_final_statuses_success_rate_and_pause() -> None:
    m = MetricsSink()
    for run, end in [("r1", "completed"), ("r2", "failed"), ("r3", "timeout"),
                     ("r4", "completed"), ("r5", "cancelled")]:
        m.emit(Event("workflow.started", run, data={"workflow": "W"}, ts=1.0))
        if end == "cancelled":  # an attempt in flight when the run is cancelled
            m.emit(task("task.started", run, "a", 1.0, 1))
            m.emit(task("task.cancelled", run, "a", 3.0, 1))
        m.emit(Event(f"workflow.{end}", run, status=end, ts=2.0))
    m.emit(Event("workflow.started", "p1", data={"workflow": "V"}, ts=1.0))
    m.emit(task("task.queued", "p1", "x", 1.0, 1))
    m.emit(Event("workflow.paused", "p1", status="paused", ts=2.0))

    assert {s: value(m, "twdsl_executions_total", workflow="W", status=s)
            for s in ("completed", "failed", "timeout", "cancelled")} == {
        "completed": 2, "failed": 1, "timeout": 1, "cancelled": 1}
    assert value(m, "twdsl_success_rate", workflow="W") == 2 / 5
    assert value(m, "twdsl_task_attempts_total", workflow="W", task="a",
                 status="cancelled") == 1
    assert value(m, "twdsl_task_duration_seconds_sum", workflow="W", task="a") == 2.0
    # a paused run is no longer active, is not finished, and its queue is emptied
    assert value(m, "twdsl_executions_active", workflow="V") == 0
    assert value(m, "twdsl_queue_depth", workflow="V") == 0
    assert value(m, "twdsl_executions_total", workflow="V", status="paused") is None
    assert value(m, "twdsl_success_rate", workflow="V") is None
    # resumed later in this process: active again, then counted once
    m.emit(Event("workflow.started", "p1", data={"workflow": "V"}, ts=3.0))
    assert value(m, "twdsl_executions_active", workflow="V") == 1
    m.emit(Event("workflow.completed", "p1", status="completed", ts=4.0))
    m.emit(Event("workflow.completed", "p1", status="completed", ts=4.0))  # a duplicate
    assert value(m, "twdsl_executions_total", workflow="V", status="completed") == 1
    assert value(m, "twdsl_executions_active", workflow="V") == 0


def test_events_of_a_run_without_a_start_count_under_unknown() -> None:
    m = MetricsSink()
    m.emit(task("task.started", "r9", "a", 1.0, 1))
    m.emit(task("task.completed", "r9", "a", 2.0, 1))
    m.emit(Event("workflow.completed", "r9", status="completed", ts=2.0))
    assert value(m, "twdsl_task_attempts_total", workflow="unknown", task="a",
                 status="completed") == 1
    assert value(m, "twdsl_task_duration_seconds_sum", workflow="unknown", task="a") == 1.0
    # no start was seen: the run was never counted as active, so it is not counted as ended
    assert value(m, "twdsl_executions_total", workflow="unknown", status="completed") is None
    assert m.runs == {}


def test_two_sinks_do_not_share_a_registry() -> None:
    a, b = MetricsSink(), MetricsSink()
    a.emit(Event("workflow.started", "r", data={"workflow": "W"}))
    assert value(a, "twdsl_executions_active", workflow="W") == 1
    assert value(b, "twdsl_executions_active", workflow="W") is None


def test_the_exposition_endpoint_serves_the_metrics_until_stopped() -> None:
    registry = CollectorRegistry()
    m = MetricsSink(registry)
    m.emit(Event("workflow.started", "r", data={"workflow": "W"}))
    m.emit(Event("workflow.failed", "r", status="failed"))
    stop = serve_metrics(0, registry)
    port = stop.port  # type: ignore[attr-defined]
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200
        assert 'twdsl_executions_total{status="failed",workflow="W"} 1.0' in r.text
        assert "# TYPE twdsl_task_duration_seconds histogram" in r.text
    finally:
        stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_a_real_run_through_the_engine_feeds_metrics_and_the_events_file(tmp_path: Path) -> None:
    """The engine's own events (not synthetic ones): a flaky task retried once, a foreach of
    three, a task skipped by `when`; the JSONL file holds the same events the metrics saw."""
    import asyncio
    import json

    from twdsl.compiler import compile_source
    from twdsl.runtime.engine import Engine, RunOptions
    from twdsl.runtime.errors import ErrorKind, TaskError
    from twdsl.runtime.events import Collect, Fanout
    from twdsl.runtime.sinks import JsonlSink

    src = '''
    workflow Flow {
      version: "1.0.0"
      task flaky { agent: "Flaky" retry: { attempts: 2, delay: 1ms, on: [transient] } }
      foreach x in [1, 2, 3] {
        task each { agent: "Echo" input: { x: x } }
      }
      task never { agent: "Echo" when: false }
    }'''
    program = compile_source(src, "w.twdsl").program
    assert program is not None

    class Agents:
        def get(self, name: str):  # noqa: ANN201 - the engine's Agents protocol
            async def agent(call):  # noqa: ANN001, ANN202
                if name == "Flaky" and call.attempt == 1:
                    raise TaskError(ErrorKind.TRANSIENT, "try again")
                return call.input
            return agent

    m, log, seen = MetricsSink(), JsonlSink(tmp_path / "e.jsonl"), Collect()
    engine = Engine(program, Agents(), Fanout([m, log, seen]), RunOptions(run_id="r1", seed=1))
    result = asyncio.run(engine.run({}))
    log.close()
    assert result.status.value == "completed"
    assert value(m, "twdsl_executions_total", workflow="Flow", status="completed") == 1
    assert value(m, "twdsl_success_rate", workflow="Flow") == 1.0
    assert value(m, "twdsl_executions_active", workflow="Flow") == 0
    assert {(t, s): value(m, "twdsl_task_attempts_total", workflow="Flow", task=t, status=s)
            for t, s in [("flaky", "failed"), ("flaky", "completed"), ("each", "completed"),
                         ("never", "completed")]} == {
        ("flaky", "failed"): 1, ("flaky", "completed"): 1, ("each", "completed"): 3,
        ("never", "completed"): None}
    assert value(m, "twdsl_task_duration_seconds_count", workflow="Flow", task="each") == 3
    assert value(m, "twdsl_task_duration_seconds_count", workflow="Flow", task="never") is None
    assert value(m, "twdsl_tasks_running", workflow="Flow") == 0
    lines = (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [
        {**e.to_json(), "correlation_id": "r1"} for e in seen.events]
