"""Statistics of recorded runs (seed 000's stats API), computed from plain rows so that any
store (SQLite, PostgreSQL) gives the same numbers.

Definitions (docs/state.md, "Statistics"):

* a run or task instance has *ended* when its status is completed, failed, timeout or
  cancelled (a skipped task did not run, a running one has not ended);
* ``success_rate`` = completed / ended (None when nothing ended);
* durations are ``finished_at - started_at`` of ended runs (instances) having both, in
  seconds; p50 and p95 interpolate linearly between the closest ranks (numpy's default);
* failure reasons are those of failed and timed-out runs (instances): ``"kind: message"``
  of the recorded error, the status itself when no error was recorded;
* days are UTC dates of ``created_at`` (runs) .
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

ENDED = frozenset({"completed", "failed", "timeout", "cancelled"})
FAILED = frozenset({"failed", "timeout"})


class RunRow(NamedTuple):
    workflow: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: Any


class TaskRow(NamedTuple):
    workflow: str
    task: str
    status: str
    started_at: float | None
    finished_at: float | None
    error: Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    >>> percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95)
    4.8
    """
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    low, high = sorted_values[lo], sorted_values[hi]
    return low + (high - low) * (pos - lo)


def failure_reason(status: str, error: Any) -> str:
    """How a failure is named in the statistics: ``kind: message`` of the error."""
    if isinstance(error, dict):
        kind, message = error.get("kind"), error.get("message")
        if kind and message:
            return f"{kind}: {message}"
        if message or kind:
            return str(message or kind)
    if error is None:
        return status
    return str(error)


def _summary(rows: Iterable[RunRow | TaskRow], top: int) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    durations: list[float] = []
    failures: Counter[str] = Counter()
    for r in rows:
        statuses[r.status] += 1
        if r.status in ENDED and r.started_at is not None and r.finished_at is not None:
            durations.append(r.finished_at - r.started_at)
        if r.status in FAILED:
            failures[failure_reason(r.status, r.error)] += 1
    ended = sum(n for s, n in statuses.items() if s in ENDED)
    durations.sort()
    return {
        "statuses": dict(sorted(statuses.items())),
        "success_rate": statuses["completed"] / ended if ended else None,
        "duration": None if not durations else {
            "mean": math.fsum(durations) / len(durations),
            "p50": percentile(durations, 0.5),
            "p95": percentile(durations, 0.95),
        },
        "failures": [{"reason": reason, "count": n} for reason, n in
                     sorted(failures.items(), key=lambda item: (-item[1], item[0]))[:top]],
    }


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def compute(runs: Iterable[RunRow], tasks: Iterable[TaskRow], top: int = 5) -> dict[str, Any]:
    """The statistics document: ``{"workflows": [...]}``, one entry per workflow (by name),
    each with its tasks (by name).  ``runs`` counts every run; a task's ``runs`` counts
    its instances that ended."""
    by_workflow: dict[str, list[RunRow]] = {}
    for run in runs:
        by_workflow.setdefault(run.workflow, []).append(run)
    tasks_by: dict[str, dict[str, list[TaskRow]]] = {}
    for t in tasks:
        tasks_by.setdefault(t.workflow, {}).setdefault(t.task, []).append(t)
    out = []
    for workflow in sorted(by_workflow):
        rows = by_workflow[workflow]
        days: dict[str, Counter[str]] = {}
        for r in rows:
            days.setdefault(_day(r.created_at), Counter())[r.status] += 1
        entry: dict[str, Any] = {"workflow": workflow, "runs": len(rows)}
        entry.update(_summary(rows, top))
        entry["per_day"] = [{"day": day, "runs": sum(c.values()),
                             "statuses": dict(sorted(c.items()))}
                            for day, c in sorted(days.items())]
        task_entries = []
        for name, instances in sorted(tasks_by.get(workflow, {}).items()):
            t_entry: dict[str, Any] = {
                "task": name, "runs": sum(1 for i in instances if i.status in ENDED)}
            t_entry.update(_summary(instances, top))
            task_entries.append(t_entry)
        entry["tasks"] = task_entries
        out.append(entry)
    return {"workflows": out}
