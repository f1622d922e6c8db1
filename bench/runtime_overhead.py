"""Overhead of the executor per task, side by side with raw asyncio making the same calls.

Shapes (issue 5): a 10,000-item parallel foreach, a 1,000-task chain, a 100×20 diamond
(100 parallel layers of 20 tasks, each layer after the previous).  Agents are async no-ops.
twdsl runs with the SQLite state store on (group commit) and off; the lower bound is raw
asyncio awaiting the same no-op calls in the same shape.  Also: peak memory of a
100,000-item foreach (a subprocess, ru_maxrss), and the time to resume a run whose 10,000
tasks are all recorded as completed (issue 6).

    python bench/runtime_overhead.py [--repeat 5] [--quick]

Prints one JSON line per measurement: medians of ``--repeat`` runs, µs per task, ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twdsl.compiler import compile_source
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import Fanout
from twdsl.runtime.recording import Recorder
from twdsl.runtime.store import SQLiteStore


async def noop(call: Any) -> Any:
    return None


class Agents:
    def get(self, name: str) -> Any:
        return noop


def source(shape: str, n: int) -> str:
    head = 'workflow B {\n  version: "1.0.0"\n'
    if shape == "foreach":
        return head + (f'  foreach i in range({n}) {{\n    parallel: true\n'
                       '    max_concurrency: 64\n'
                       '    task t { agent: "noop" input: { i: i } }\n  }\n}\n')
    if shape == "chain":
        return head + "".join(f'  task t{i} {{ agent: "noop" }}\n' for i in range(n)) + "}\n"
    if shape == "diamond":
        layers, width = n
        body = ""
        for layer in range(layers):
            body += "  parallel {\n" + "".join(
                f'    task t{layer}_{w} {{ agent: "noop" }}\n' for w in range(width)) + "  }\n"
        return head + body + "}\n"
    raise ValueError(shape)


async def raw(shape: str, n: Any) -> None:
    """The lower bound: the same awaits, nothing recorded, nothing scheduled."""
    if shape == "foreach":
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await noop({"i": i})
        await asyncio.gather(*(one(i) for i in range(n)))
    elif shape == "chain":
        for _ in range(n):
            await noop(None)
    else:
        layers, width = n
        for _ in range(layers):
            await asyncio.gather(*(noop(None) for _ in range(width)))


def dask_local(shape: str, n: Any) -> float | None:
    """The same graph of no-op calls on Dask's local threaded scheduler (a peer, when dask
    is installed: `pip install dask`; not a dependency of twdsl)."""
    try:
        import dask
    except ImportError:
        return None

    def op(*_: Any) -> None:
        return None

    graph: dict[Any, Any] = {}
    if shape == "foreach":
        graph = {("t", i): (op, i) for i in range(n)}
        keys = list(graph)
    elif shape == "chain":
        graph = {("t", 0): (op,)}
        for i in range(1, n):
            graph[("t", i)] = (op, ("t", i - 1))
        keys = [("t", n - 1)]
    else:
        layers, width = n
        for layer in range(layers):
            deps = [("t", layer - 1, w) for w in range(width)] if layer else []
            for w in range(width):
                graph[("t", layer, w)] = (op, *deps)
        keys = [("t", layers - 1, w) for w in range(width)]
    t0 = time.perf_counter()
    import dask.threaded

    dask.threaded.get(graph, keys)
    return time.perf_counter() - t0


def run_twdsl(program: Any, store_path: Path | None) -> float:
    sinks: list[Any] = []
    store = None
    if store_path is not None:
        store = SQLiteStore(store_path)
        sinks.append(Recorder.new_run(store, program, {}))
    engine = Engine(program, Agents(), Fanout(sinks), RunOptions(max_concurrency=64))
    t0 = time.perf_counter()
    result = asyncio.run(engine.run({}))
    if store is not None:
        store.close()  # the last group commit is part of the cost
    elapsed = time.perf_counter() - t0
    assert result.status.value == "completed", result.error
    return elapsed


def median_of(fn: Any, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def bench_shape(shape: str, n: Any, tasks: int, repeat: int) -> dict[str, Any]:
    program = compile_source(source(shape, n), "b.twdsl").program
    assert program is not None
    tmp = Path(tempfile.mkdtemp())
    counter = iter(range(10**6))

    def with_store() -> float:
        return run_twdsl(program, tmp / f"s{next(counter)}.db")

    def raw_once() -> float:
        t0 = time.perf_counter()
        asyncio.run(raw(shape, n))
        return time.perf_counter() - t0

    t_raw = median_of(raw_once, repeat)
    t_dask = None
    if dask_local(shape, n) is not None:
        t_dask = median_of(lambda: dask_local(shape, n) or 0.0, repeat)
    t_off = median_of(lambda: run_twdsl(program, None), repeat)
    t_on = median_of(with_store, repeat)
    us = 1e6 / tasks
    return {"bench": "runtime_overhead", "shape": shape, "tasks": tasks, "repeat": repeat,
            "raw_asyncio_us_per_task": round(t_raw * us, 2),
            "twdsl_no_store_us_per_task": round(t_off * us, 2),
            "twdsl_store_us_per_task": round(t_on * us, 2),
            "dask_local_us_per_task": round(t_dask * us, 2) if t_dask else None,
            "ratio_store_vs_raw": round(t_on / t_raw, 1),
            "ratio_store_vs_no_store": round(t_on / t_off, 2)}


MEMORY = '''
import asyncio, resource, sys
from twdsl.compiler import compile_source
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import Fanout
sys.path.insert(0, %r)
from runtime_overhead import Agents, source
program = compile_source(source("foreach", %d), "b.twdsl").program
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = asyncio.run(Engine(program, Agents(), Fanout([]), RunOptions(max_concurrency=64)).run({}))
assert r.status.value == "completed"
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
'''


def bench_memory(n: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", MEMORY % (str(Path(__file__).parent), n)],
                         capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split())
    return {"bench": "runtime_memory", "shape": "foreach", "tasks": n,
            "peak_rss_mb": round(peak / 1024, 1), "before_run_rss_mb": round(base / 1024, 1)}


def bench_resume(n: int, repeat: int) -> dict[str, Any]:
    """A run of n tasks, all recorded as completed: the time to load what it reuses and run
    it again to its end without calling an agent."""
    program = compile_source(source("foreach", n), "b.twdsl").program
    assert program is not None
    tmp = Path(tempfile.mkdtemp())
    store = SQLiteStore(tmp / "state.db")
    rec = Recorder.new_run(store, program, {})
    engine = Engine(program, Agents(), Fanout([rec]), RunOptions(max_concurrency=64,
                                                                  run_id=rec.run_id))
    asyncio.run(engine.run({}))
    store.close()

    def resume() -> float:
        t0 = time.perf_counter()
        s = SQLiteStore(tmp / "state.db")
        reuse = s.completed_results(rec.run_id)
        e = Engine(program, Agents(), Fanout([]), RunOptions(max_concurrency=64, reuse=reuse))
        r = asyncio.run(e.run({}))
        s.close()
        assert r.status.value == "completed" and len(reuse) == n
        return time.perf_counter() - t0

    return {"bench": "runtime_resume", "completed_tasks": n, "repeat": repeat,
            "resume_seconds": round(median_of(resume, repeat), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    a = ap.parse_args()
    k = 10 if a.quick else 1
    for shape, n, tasks in (("foreach", 10_000 // k, 10_000 // k),
                            ("chain", 1_000 // k, 1_000 // k),
                            ("diamond", (100 // k, 20), 100 // k * 20)):
        print(json.dumps(bench_shape(shape, n, tasks, a.repeat)), flush=True)
    print(json.dumps(bench_memory(100_000 // k)), flush=True)
    print(json.dumps(bench_resume(10_000 // k, a.repeat)), flush=True)


if __name__ == "__main__":
    main()
