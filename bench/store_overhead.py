"""What recording costs: microseconds per recorded task in the state store.

A task is what the runtime records for one task instance that succeeds at its first
attempt: its state ``running``, its attempt, its state ``completed`` (with a result) and two
events (``task.started``, ``task.completed``): five calls.  Modes, each on a fresh file:

* ``null``: the same five calls on an object that does nothing (the lower bound: the cost of
  the calls themselves);
* ``group``: SQLiteStore as the runtime uses it (writer thread, group commit), clock stopped
  after the final ``flush()``, so every record is committed;
* ``group_no_thread``: group commit without the writer thread, one ``flush()`` at the end
  (the CPU cost of recording and committing, without the thread's hand-offs);
* ``per_write``: one transaction per recorded write (``flush()`` after each call), the
  design group commit replaces (on fewer tasks);
* ``per_write_durable``: one synced transaction per write (``synchronous=FULL``), on fewer
  tasks;
* ``completed_results``: reading back the results of a run of N completed tasks (what a
  resume does).

Each mode runs ``--repeat`` times; a JSON line per mode gives the median and all samples;
``calls_us`` is the part spent in the calls before the final ``flush()`` (with the writer
thread, what the recording thread pays while the thread commits beside it).

    .venv/bin/python bench/store_overhead.py [--tasks 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twdsl.runtime.store import SQLiteStore


class NullStore:
    """The calls without a store behind them."""

    def set_task(self, run_id: str, key: str, status: str, **fields: Any) -> None:
        pass

    def set_attempt(self, run_id: str, key: str, attempt: int, status: str,
                    **fields: Any) -> None:
        pass

    def record_event(self, run_id: str, type: str, key: str | None = None, data: Any = None,
                     ts: float | None = None) -> None:
        pass

    def flush(self) -> None:
        pass


def record(store: Any, run_id: str, n: int, per_write_flush: bool = False,
           marks: list[float] | None = None) -> None:
    """The runtime's calls for ``n`` tasks of a foreach, each completing at once; the time
    the calls took before the final flush is appended to ``marks``."""
    clock = time.time
    flush = store.flush if per_write_flush else None
    for i in range(n):
        key = f"convert[{i}]"
        t0 = clock()
        store.set_task(run_id, key, "running", task="convert", attempts=1, started_at=t0,
                       line=12)
        if flush:
            flush()
        store.record_event(run_id, "task.started", key, {"attempt": 1}, t0)
        if flush:
            flush()
        t1 = clock()
        store.set_attempt(run_id, key, 1, "completed", started_at=t0, finished_at=t1)
        if flush:
            flush()
        store.set_task(run_id, key, "completed", result={"index": i, "file": f"out-{i}.txt"},
                       finished_at=t1)
        if flush:
            flush()
        store.record_event(run_id, "task.completed", key, {"attempt": 1}, t1)
        if flush:
            flush()
    if marks is not None:
        marks.append(time.perf_counter())
    store.flush()


def _fresh(folder: Path, name: str, **options: Any) -> tuple[SQLiteStore, str]:
    store = SQLiteStore(folder / f"{name}.db", **options)
    run = store.create_run("20260101-000000-bench0", "bench", inputs={"n": 1},
                           status="running")
    return store, run.id


def measure(mode: str, n: int, folder: Path) -> tuple[float, float]:
    """Seconds for ``n`` tasks in ``mode``: in all, and before the final flush."""
    if mode == "null":
        store: Any = NullStore()
        run_id = "x"
    elif mode == "group":
        store, run_id = _fresh(folder, mode)
    elif mode in ("group_no_thread", "per_write", "completed_results"):
        store, run_id = _fresh(folder, mode, flush_interval=None)
    elif mode == "per_write_durable":
        store, run_id = _fresh(folder, mode, flush_interval=None)
        store._db.execute("PRAGMA synchronous=FULL")  # every commit synced, as durable=True
    else:
        raise ValueError(mode)
    try:
        if mode == "completed_results":
            record(store, run_id, n)
            t = time.perf_counter()
            results = store.completed_results(run_id)
            elapsed = time.perf_counter() - t
            assert len(results) == n
            return elapsed, elapsed
        marks: list[float] = []
        t = time.perf_counter()
        record(store, run_id, n, per_write_flush=mode.startswith("per_write"), marks=marks)
        elapsed = time.perf_counter() - t
        if isinstance(store, SQLiteStore):
            assert len(store.task_states(run_id)) == n
            assert len(store.events(run_id)) == 2 * n
        return elapsed, marks[0] - t
    finally:
        if isinstance(store, SQLiteStore):
            store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--per-write-tasks", type=int, default=2000,
                        help="tasks for per_write (a transaction per write is slow)")
    parser.add_argument("--durable-tasks", type=int, default=300,
                        help="tasks for per_write_durable (each write waits for the disk)")
    args = parser.parse_args(argv)
    modes = ["null", "group", "group_no_thread", "per_write", "per_write_durable",
             "completed_results"]
    floor = None
    for mode in modes:
        n = {"per_write_durable": args.durable_tasks,
             "per_write": args.per_write_tasks}.get(mode, args.tasks)
        samples, before_flush = [], []
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="twdsl-bench-") as tmp:
                total, calls = measure(mode, n, Path(tmp) / str(i))
            samples.append(total)
            before_flush.append(calls)
        median = statistics.median(samples)
        line: dict[str, Any] = {"bench": "store_overhead", "mode": mode, "tasks": n}
        if mode == "completed_results":
            line["ms"] = round(median * 1e3, 2)
            line["samples_ms"] = [round(s * 1e3, 2) for s in samples]
        else:
            us = median / n * 1e6
            line["us_per_task"] = round(us, 2)
            line["samples_us"] = [round(s / n * 1e6, 2) for s in samples]
            if mode in ("group", "group_no_thread"):
                # the calls alone (what the caller's thread waits for), the final commit apart
                line["calls_us"] = round(statistics.median(before_flush) / n * 1e6, 2)
            if mode == "null":
                floor = us
            elif floor:
                line["minus_null_us"] = round(us - floor, 2)
        print(json.dumps(line), flush=True)
    print(json.dumps({"bench": "store_overhead", "python": sys.version.split()[0],
                      "sqlite": __import__("sqlite3").sqlite_version}))


if __name__ == "__main__":
    main()
