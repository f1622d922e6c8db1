"""What durability costs (issue 13, "A cheaper durable store"): a 10,000-item parallel foreach
of no-op agents, side by side in one process and interleaved (so that a busy machine weighs on
every column alike):

* ``raw``: raw asyncio awaiting the same no-op calls in the same shape (a semaphore of 64);
* ``none``: twdsl recording nothing (no state store);
* ``sqlite``: twdsl recording every state change in a SQLite store (group commit);
* ``postgres``: the same into a PostgreSQL store (a throwaway local server on a Unix socket,
  tests/pg_helpers.py; skipped with ``--no-postgres``).

For each: the median wall time and the median CPU time of the process (all its threads) per
task, over ``--repeat`` rounds; the ratios the issue sets aims for (recording ÷ not recording
≤ 1.5, SQLite ÷ raw asyncio ≤ 5).  The last close() of the store is part of the time.  Then
the per-task cost of each store alone (bench/store_overhead.py's five calls, as the runtime
makes them now: the fast path of a first attempt).

    python bench/durable_overhead.py [--tasks 10000] [--repeat 7] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from runtime_overhead import Agents, raw, source  # noqa: E402

from twdsl.compiler import compile_source  # noqa: E402
from twdsl.runtime.engine import Engine, RunOptions  # noqa: E402
from twdsl.runtime.events import Fanout  # noqa: E402
from twdsl.runtime.recording import Recorder  # noqa: E402
from twdsl.runtime.store import open_store  # noqa: E402


def timed(fn: Any) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def run_engine(program: Any, target: str | None) -> None:
    sinks: list[Any] = []
    store = None
    if target is not None:
        store = open_store(target)
        sinks.append(Recorder.new_run(store, program, {}))
    engine = Engine(program, Agents(), Fanout(sinks),
                    RunOptions(max_concurrency=64,
                               run_id=sinks[0].run_id if sinks else None))
    status: list[str] = []

    async def main() -> None:  # returns None: asyncio.run's signal handling reprs its result
        status.append((await engine.run({})).status.value)

    asyncio.run(main())
    if store is not None:
        store.close()
    assert status == ["completed"], engine.final


def record_calls(store: Any, run_id: str, n: int) -> None:
    """What the Recorder makes of a first attempt that succeeds, n times."""
    clock = time.time
    for i in range(n):
        key = f"t[{i}]"
        t0 = clock()
        store.task_started(run_id, key, "t", t0, 12, {"i": i})
        store.task_completed(run_id, key, clock(), {"index": i, "file": f"out-{i}.txt"})
    store.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    n = a.tasks
    program = compile_source(source("foreach", n), "b.twdsl").program
    assert program is not None
    tmp = Path(tempfile.mkdtemp())
    server = None
    if not a.no_postgres:
        import pg_helpers

        server = pg_helpers.start()
    counter = iter(range(10**9))

    def target(kind: str) -> str:
        if kind == "sqlite":
            return str(tmp / f"s{next(counter)}.db")
        assert server is not None
        return server.new_database()

    kinds = ["raw", "none", "sqlite"] + ([] if server is None else ["postgres"])
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for _ in range(a.repeat):
        for kind in kinds:
            if kind == "raw":
                samples[kind].append(timed(lambda: asyncio.run(raw("foreach", n))))
            elif kind == "none":
                samples[kind].append(timed(lambda: run_engine(program, None)))
            else:
                where = target(kind)  # made outside the timing
                samples[kind].append(timed(lambda where=where: run_engine(program, where)))
    us = 1e6 / n
    wall = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
    cpu = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
    line: dict[str, Any] = {"bench": "durable_overhead", "shape": "foreach", "tasks": n,
                            "repeat": a.repeat}
    for k in kinds:
        line[f"{k}_us_per_task"] = round(wall[k] * us, 2)
        line[f"{k}_cpu_us_per_task"] = round(cpu[k] * us, 2)
    for k in kinds[2:]:
        line[f"ratio_{k}_vs_none"] = round(wall[k] / wall["none"], 2)
        line[f"ratio_{k}_vs_raw"] = round(wall[k] / wall["raw"], 2)
        line[f"cpu_ratio_{k}_vs_none"] = round(cpu[k] / cpu["none"], 2)
    print(json.dumps(line), flush=True)

    per_task: dict[str, Any] = {"bench": "store_per_task", "tasks": n, "repeat": a.repeat}
    for kind in kinds[2:]:
        runs = []
        for _ in range(a.repeat):
            store = open_store(target(kind))
            store.create_run("r", "w", status="running")
            runs.append(timed(lambda store=store: record_calls(store, "r", n)))
            store.close()
        per_task[f"{kind}_us_per_task"] = round(statistics.median(r[0] for r in runs) * us, 2)
        per_task[f"{kind}_cpu_us_per_task"] = round(
            statistics.median(r[1] for r in runs) * us, 2)
    print(json.dumps(per_task), flush=True)
    if server is not None:
        server.stop()


if __name__ == "__main__":
    main()
