"""Benchmark: what a task costs with the Ray executor, beside raw Ray doing the same calls and
beside the local executor, in the same run and on the same Ray instance.

- ``ray-executor``: a workflow whose parallel ``foreach`` calls a no-op Python agent (a plain
  function returning its input) N times, run by the engine with ``--executor ray``: each call
  is one Ray task (twdsl's scheduling, state machine, events, breaker, the agent's import and
  JSON check on the worker included; no state store);
- ``raw-ray``: the lower bound: the same N calls of the same function as Ray tasks, awaited
  from asyncio with the same number in flight, by hand;
- ``local``: the same workflow with the local executor (the function in a thread).

Both concurrency 1 (the latency of one call) and 16 (twdsl's default ``max_concurrency``) are
timed.  Ray runs on this machine: one node with 2 CPUs on 127.0.0.1, its files in a temporary
folder (``--ray-address`` uses a running cluster instead).  This measures; it never passes or
fails.  Output: one JSON line per (concurrency, what) with the median microseconds per task
over the repetitions and the ratio to raw Ray.

    python bench/ray_executor.py            # ~2 min
    python bench/ray_executor.py --quick    # smoke run
"""

from __future__ import annotations

import os
import tempfile

_TMP = tempfile.mkdtemp(prefix="twrb")
# Ray's switches: loopback addresses only, and its session files in a temporary folder
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_TMPDIR", _TMP)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import ray  # noqa: E402

from twdsl.compiler import compile_source  # noqa: E402
from twdsl.runtime.agents import AgentRegistry  # noqa: E402
from twdsl.runtime.engine import Engine, RunOptions  # noqa: E402
from twdsl.runtime.events import Fanout  # noqa: E402
from twdsl.runtime.executors import Executor, make_executor  # noqa: E402

AGENT = "def noop(input, ctx):\n    return input\n"
FLOW = """workflow Bench {
  version: "1.0.0"
  input { items: array<number> }
  output { n: number = work.result.length }
  foreach i in items {
    parallel: true
    task work { agent: "Noop" input: { i: i } }
  }
}
"""


def raw_noop(input: dict[str, Any]) -> Any:
    """What the agent does, as one would write it for Ray by hand."""
    return input


async def raw_ray(n: int, concurrency: int) -> float:
    remote = ray.remote(raw_noop)
    items = iter(range(n))

    async def worker() -> None:
        for i in items:
            await remote.remote({"i": i})

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return (time.perf_counter() - start) / n * 1e6


async def engine_run(n: int, concurrency: int, registry: AgentRegistry,
                     executor: Executor) -> float:
    program = compile_source(FLOW, "bench.twdsl").program
    assert program is not None
    engine = Engine(program, registry, Fanout([]),
                    RunOptions(executor=executor, max_concurrency=concurrency))
    start = time.perf_counter()
    result = await engine.run({"items": list(range(n))})
    took = time.perf_counter() - start
    assert result.status.value == "completed" and result.outputs == {"n": n}, result.error
    return took / n * 1e6


async def main(reps: int, scale: float, address: str | None) -> None:
    project = Path(_TMP) / "project"
    project.mkdir()
    (project / "bench_ray_agents.py").write_text(AGENT)
    registry = AgentRegistry({"Noop": {"python": "bench_ray_agents:noop",
                                       "circuit_breaker": {"failures": 0}}}, project)
    if address is None:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    ray_executor = make_executor("ray", address)
    local = make_executor("local", None)
    variants = {
        "raw-ray": lambda n, c: raw_ray(n, c),
        "ray-executor": lambda n, c: engine_run(n, c, registry, ray_executor),
        "local": lambda n, c: engine_run(n, c, registry, local),
    }
    for concurrency, n in ((1, int(300 * scale)), (16, int(2000 * scale))):
        for fn in variants.values():  # warm up: worker processes, imports
            await fn(max(20, n // 10), concurrency)
        times: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for rep in range(reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                times[name].append(await variants[name](n, concurrency))
        base = statistics.median(times["raw-ray"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(json.dumps({"bench": "ray_executor", "concurrency": concurrency, "what": name,
                              "tasks": n, "reps": reps, "us_per_task": round(med, 1),
                              "ratio_to_raw_ray": round(med / base, 2)}), flush=True)
    ray_executor.close()
    ray.shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a smoke run: few tasks, 2 reps")
    ap.add_argument("--ray-address", default=None, help="use this running cluster")
    args = ap.parse_args()
    try:
        asyncio.run(main(2 if args.quick else args.reps, 0.1 if args.quick else 1.0,
                         args.ray_address))
    finally:
        shutil.rmtree(_TMP, ignore_errors=True)
