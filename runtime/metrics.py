"""Prometheus metrics of runs, kept by an event sink (docs/events.md#metrics).

The engine already says everything that happens as events; counting them here keeps the
engine free of metrics code and gives the same numbers for a live run and for a replay of
its events.  Every metric is labelled by workflow name, which only ``workflow.started``
carries: the sink keeps a run id → workflow map (a run's events before its start, if any, are
counted under ``unknown``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from twdsl.runtime.events import Event

#: Final workflow statuses: a run with one of them is finished (``paused`` is not: it may
#: be resumed, and its resumption emits ``workflow.started`` again).
FINAL = ("completed", "failed", "cancelled", "timeout")

#: Seconds: agent calls range from milliseconds (a Python function) to an hour (a build).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0, 600.0, 1800.0, 3600.0)

UNKNOWN = "unknown"


@dataclass(slots=True)
class _Run:
    workflow: str
    active: bool = False  # counted in twdsl_executions_active (a workflow.started was seen)
    queued: set[str] = field(default_factory=set)  # task keys waiting for a slot
    running: set[str] = field(default_factory=set)  # task keys with an attempt in flight
    started: dict[str, float] = field(default_factory=dict)  # key → first attempt's start


class MetricsSink:
    """An EventSink maintaining the run metrics in a Prometheus registry.

    ``registry`` defaults to a new one (never the global default registry: two sinks in one
    process, as in tests, must not collide); pass it to ``serve_metrics``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.executions = Counter(
            "twdsl_executions", "Workflow runs that finished, by final status.",
            ["workflow", "status"], registry=r)
        self.active = Gauge(
            "twdsl_executions_active", "Workflow runs in progress in this process.",
            ["workflow"], registry=r)
        self.duration = Histogram(
            "twdsl_task_duration_seconds",
            "Time from a task's first attempt starting to its final outcome (retries and "
            "their waits included); cache hits and reused results are not observed.",
            ["workflow", "task"], buckets=DURATION_BUCKETS, registry=r)
        self.attempts = Counter(
            "twdsl_task_attempts", "Task attempts, by outcome: completed, failed, timeout, "
            "cancelled.", ["workflow", "task", "status"], registry=r)
        self.success_rate = Gauge(
            "twdsl_success_rate",
            "Completed runs / finished runs (completed, failed, cancelled, timeout) seen by "
            "this process.", ["workflow"], registry=r)
        self.queue_depth = Gauge(
            "twdsl_queue_depth", "Tasks ready to run but waiting for a concurrency slot "
            "(from task.queued events).", ["workflow"], registry=r)
        self.running = Gauge(
            "twdsl_tasks_running", "Task attempts in flight.", ["workflow"], registry=r)
        self.runs: dict[str, _Run] = {}
        self.finished: dict[str, list[int]] = {}  # workflow → [completed, finished]
        self._handlers: dict[str, Callable[[Event, _Run], None]] = {
            "task.queued": self._queued,
            "task.started": self._started,
            "task.retried": self._retried,
            "task.completed": self._final,
            "task.failed": self._final,
            "task.timeout": self._final,
            "task.cancelled": self._final,
            "task.skipped": self._final,
            "task.cached": self._final,
            "task.reused": self._final,
        }

    def emit(self, event: Event) -> None:
        t = event.type
        if t == "workflow.started":
            self._workflow_started(event)
            return
        run = self._run(event.run_id)
        if t.startswith("workflow."):
            self._workflow_ended(event, run, t.split(".", 1)[1])
            return
        handler = self._handlers.get(t)
        if handler is not None and event.key is not None:
            handler(event, run)

    # ------------------------------------------------------------------ workflows
    def _run(self, run_id: str) -> _Run:
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = _Run(UNKNOWN)
        return run

    def _workflow_started(self, e: Event) -> None:
        name = str(e.data.get("workflow") or UNKNOWN)
        run = self.runs.get(e.run_id)
        if run is not None and run.active:
            return  # a duplicate start: the run is already counted
        if run is not None:  # events seen before the start, under "unknown"
            self._forget(run)
        self.runs[e.run_id] = _Run(name, active=True)
        self.active.labels(name).inc()

    def _workflow_ended(self, e: Event, run: _Run, status: str) -> None:
        if status not in FINAL and status != "paused":
            return  # workflow.resumed and future non-final events change no count
        del self.runs[e.run_id]
        self._forget(run)
        if not run.active:
            return  # no start seen (or a duplicate end): nothing to count it against
        self.active.labels(run.workflow).dec()
        if status == "paused":
            return
        self.executions.labels(run.workflow, status).inc()
        counts = self.finished.setdefault(run.workflow, [0, 0])
        counts[0] += status == "completed"
        counts[1] += 1
        self.success_rate.labels(run.workflow).set(counts[0] / counts[1])

    def _forget(self, run: _Run) -> None:
        """A run that ended (or paused) has nothing queued or running any more."""
        if run.queued:
            self.queue_depth.labels(run.workflow).dec(len(run.queued))
        if run.running:
            self.running.labels(run.workflow).dec(len(run.running))
        run.queued.clear()
        run.running.clear()

    # ------------------------------------------------------------------ tasks
    def _queued(self, e: Event, run: _Run) -> None:
        key = e.key or ""
        if key not in run.queued:
            run.queued.add(key)
            self.queue_depth.labels(run.workflow).inc()

    def _unqueue(self, run: _Run, key: str) -> None:
        if key in run.queued:
            run.queued.discard(key)
            self.queue_depth.labels(run.workflow).dec()

    def _started(self, e: Event, run: _Run) -> None:
        key = e.key or ""
        self._unqueue(run, key)
        run.started.setdefault(key, e.ts)
        if key not in run.running:
            run.running.add(key)
            self.running.labels(run.workflow).inc()

    def _end_attempt(self, e: Event, run: _Run, status: str) -> None:
        key = e.key or ""
        if key in run.running:
            run.running.discard(key)
            self.running.labels(run.workflow).dec()
            self.attempts.labels(run.workflow, e.task or key, status).inc()

    def _retried(self, e: Event, run: _Run) -> None:
        self._end_attempt(e, run, _error_status(e.data.get("error")))

    def _final(self, e: Event, run: _Run) -> None:
        key = e.key or ""
        status = e.type.split(".", 1)[1]
        self._unqueue(run, key)
        if status == "skipped":  # by on_error after a failed attempt, or by `when`
            self._end_attempt(e, run, _error_status(e.data.get("error")))
        elif status in ("completed", "failed", "timeout", "cancelled"):
            self._end_attempt(e, run, status)
        started = run.started.pop(key, None)
        if status in ("cached", "reused"):
            return  # no work was done in this run
        seconds = e.data.get("duration")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            if started is None:
                return  # no attempt started (skipped by `when`, cancelled in the queue)
            seconds = max(0.0, e.ts - started)
        self.duration.labels(run.workflow, e.task or key).observe(float(seconds))


def _error_status(err: Any) -> str:
    kind = err.get("kind") if isinstance(err, dict) else None
    return {"timeout": "timeout", "cancelled": "cancelled"}.get(kind or "", "failed")


def serve_metrics(port: int, registry: CollectorRegistry,
                  addr: str = "127.0.0.1") -> Callable[[], None]:
    """Serve ``GET /metrics`` (Prometheus text format) on ``addr:port`` from a daemon
    thread; returns ``stop()``, which shuts the server down and frees the port.  Port 0
    picks a free port: read it from ``stop.port``.  Bound to loopback by default: metrics
    name workflows and tasks, and a scraper on another host should come through a proxy or
    an explicit ``addr``."""
    from prometheus_client import start_http_server

    started: Any = start_http_server(port, addr=addr, registry=registry)
    server, thread = started  # prometheus-client >= 0.20 returns (server, thread)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5.0)

    stop.port = server.server_address[1]  # type: ignore[attr-defined]
    return stop
