"""Lifecycle events: what the engine tells the state store, the progress view and metrics.

Event types (docs/runtime.md): ``workflow.started``, ``workflow.completed``,
``workflow.failed``, ``workflow.cancelled``, ``workflow.timeout``, ``workflow.paused``,
``workflow.resumed``; ``task.queued``, ``task.started`` (one per attempt), ``task.completed``,
``task.failed``, ``task.retried``, ``task.skipped``, ``task.timeout``, ``task.cancelled``,
``task.reused`` (a completed result reused on resume), ``task.cached`` (a cache hit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Every event type, in the order of the docstring above (docs/events.md)
TYPES = ("workflow.started", "workflow.completed", "workflow.failed", "workflow.cancelled",
         "workflow.timeout", "workflow.paused", "workflow.resumed", "task.queued",
         "task.started", "task.completed", "task.failed", "task.retried", "task.skipped",
         "task.timeout", "task.cancelled", "task.reused", "task.cached")


@dataclass(slots=True)
class Event:
    type: str
    run_id: str
    key: str | None = None  # the task instance: node id, plus [i,j] inside loops
    task: str | None = None  # the task's name
    node: str | None = None
    attempt: int | None = None
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": round(self.ts, 6), "type": self.type, "run_id": self.run_id}
        for k in ("key", "task", "node", "attempt", "status"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        if self.data:
            out["data"] = self.data
        return out


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class Fanout:
    """Sends each event to several sinks; a sink that raises is dropped from the run, with
    the error kept in ``errors`` (a broken progress view must not fail a workflow)."""

    def __init__(self, sinks: list[EventSink]) -> None:
        self.sinks = list(sinks)
        self.errors: list[str] = []

    def emit(self, event: Event) -> None:
        for sink in list(self.sinks):
            try:
                sink.emit(event)
            except Exception as e:  # noqa: BLE001 - isolate the run from its observers
                self.sinks.remove(sink)
                self.errors.append(f"{type(sink).__name__}: {e}")


class Collect:
    """Keeps every event in memory (tests, ``--log-format json``)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)
