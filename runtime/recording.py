"""Events into the state store: the sink that makes a run durable (docs/state.md).

Every event is appended to the run's events; the ones that change a state also update the
run, its task instances and their attempts.  Task records are group-committed (cheap, may be
lost in the last few milliseconds before a crash: those tasks run again on resume, at least
once); run status changes are durable.

A resumed run keeps its first start time, and the results it reuses are written back as they
were (``task.reused`` carries the result): a second resume, ``runs show`` and ``runs retry
--failed-only`` see them.  An attempt that failed keeps its error whole, with the agent's
details (a Python agent's traceback, a command's stderr), also when ``retry`` or ``on_error``
handled it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twdsl.ir.model import Program
from twdsl.lang.values import to_json
from twdsl.runtime.events import Event
from twdsl.runtime.store import Store
from twdsl.runtime.store.base import new_run_id, this_host


class Recorder:
    """An EventSink writing one run into a store."""

    def __init__(self, store: Store, run_id: str, program: Program | None = None,
                 resumed: bool = False) -> None:
        self.store = store
        self.run_id = run_id
        self.resumed = resumed  # the run started before: its start time stays
        self.lines: dict[str, int | None] = {}
        #: when the current attempt of each task instance started.  A first attempt that
        #: succeeds gets no row of its own in `attempts` (the task's row says it all: one
        #: write less per task); every other attempt does.
        self.attempt_start: dict[str, float] = {}
        if program is not None:
            self.lines = {n.id: (n.src.line if n.src else None)
                          for n in program.nodes.values()}

    @classmethod
    def new_run(cls, store: Store, program: Program, inputs: dict[str, Any],
                parent_id: str | None = None) -> Recorder:
        import time

        run_id = new_run_id(time.time())
        store.create_run(run_id, program.workflow, version=program.version,
                         source_path=program.source, ir=program.to_json(),
                         inputs=to_json(inputs), status="pending", parent_id=parent_id,
                         pid=os.getpid(), host=this_host())
        return cls(store, run_id, program)

    def emit(self, e: Event) -> None:
        t = e.type
        # the common case first: a task's first attempt starting, and succeeding (one row;
        # the store keeps both events in it)
        if t == "task.completed":
            if e.attempt == 1 and not self.resumed:
                self.attempt_start.pop(e.key, None)  # type: ignore[arg-type]
                self.store.task_completed(self.run_id, e.key, e.ts,  # type: ignore[arg-type]
                                          e.data.get("result"))
                return
        elif t == "task.started":
            if e.attempt == 1 and not self.resumed:
                self.attempt_start[e.key] = e.ts  # type: ignore[index]
                self.store.task_started(self.run_id, e.key, e.task,  # type: ignore[arg-type]
                                        e.ts, self.lines.get(e.node),  # type: ignore[arg-type]
                                        e.data.get("input"))
                return
        self._emit(e)

    def _emit(self, e: Event) -> None:
        s, rid, key = self.store, self.run_id, e.key
        t = e.type
        if t == "workflow.started":
            if not self.resumed:  # a resumed run is running already (mark_resumed, claim)
                s.update_run(rid, status="running", started_at=e.ts)
        elif t.startswith("workflow."):
            status = t.split(".", 1)[1]
            if status == "resumed":
                pass
            elif status in ("completed", "failed", "cancelled", "timeout", "paused"):
                fields: dict[str, Any] = {"status": status}
                if status != "paused":
                    fields["finished_at"] = e.ts
                if "outputs" in e.data:
                    fields["outputs"] = e.data["outputs"]
                if "error" in e.data:
                    fields["error"] = e.data["error"]
                s.update_run(rid, **fields)
        elif key is not None:
            line = self.lines.get(e.node or "")
            if t == "task.started":
                attempt = e.attempt or 1
                self.attempt_start[key] = e.ts
                # the row's start is the first attempt's (a task's duration counts its
                # retries, as the engine's does); each attempt's own is in `attempts`
                s.set_task(rid, key, "running", task=e.task, attempts=attempt, line=line,
                           **({"input": e.data.get("input"), "started_at": e.ts}
                              if attempt == 1 else {}))
                if attempt > 1:
                    s.set_attempt(rid, key, attempt, "running", started_at=e.ts)
            elif t == "task.retried":
                err = e.data.get("error")
                s.set_task(rid, key, "retrying", task=e.task, error=err)
                if e.attempt:
                    s.set_attempt(rid, key, e.attempt, _attempt_status(err),
                                  started_at=self.attempt_start.get(key),
                                  finished_at=e.ts, error=err)
            elif t == "task.reused":  # as recorded before (times kept), or in a new run
                s.set_task(rid, key, "completed", task=e.task, result=e.data.get("result"),
                           line=line)
            elif t in ("task.completed", "task.cached"):
                s.set_task(rid, key, "completed", task=e.task, result=e.data.get("result"),
                           finished_at=e.ts, line=line,
                           **({"attempts": e.attempt} if e.attempt else {}))
                if t == "task.completed" and (e.attempt or 1) > 1:
                    s.set_attempt(rid, key, e.attempt or 1, "completed",
                                  started_at=self.attempt_start.get(key), finished_at=e.ts)
                self.attempt_start.pop(key, None)
            elif t in ("task.failed", "task.timeout", "task.cancelled", "task.skipped"):
                status = t.split(".", 1)[1]
                err = e.data.get("error")
                s.set_task(rid, key, status, task=e.task, error=err, finished_at=e.ts,
                           line=line)
                if e.attempt:
                    if "details" in e.data and isinstance(err, dict):
                        err = {**err, "details": e.data["details"]}
                    s.set_attempt(rid, key, e.attempt,
                                  _attempt_status(err) if status == "skipped" else status,
                                  started_at=self.attempt_start.pop(key, None),
                                  finished_at=e.ts, error=err)
        s.record_event(rid, t, key, _event_data(e), ts=e.ts)

    def close(self) -> None:
        self.store.close()


def _attempt_status(err: Any) -> str:
    kind = err.get("kind") if isinstance(err, dict) else None
    return {"timeout": "timeout", "cancelled": "cancelled"}.get(kind or "", "failed")


def _event_data(e: Event) -> dict[str, Any] | None:
    data = dict(e.data)
    if e.task is not None:
        data["task"] = e.task
    if e.attempt is not None:
        data["attempt"] = e.attempt
    return data or None


def open_store(where: str | Path) -> Store:
    """The store at a path or URL (kept for callers of the first releases)."""
    from twdsl.runtime.store import open_store as open_

    return open_(where)
