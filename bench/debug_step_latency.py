"""Debugger step latency: the time from a ``next`` request to the ``stopped`` event, with
``twdsl debug`` as a subprocess driven over stdio by the tests' DAP client
(tests/dap_client.py), side by side with the protocol's own round trip (a ``threads``
request and its response, over the same pipes, in the same session): the lower bound of
any request.

The workflow is a chain of N tasks of the builtin ``echo`` agent; the run stops on entry,
then ``next`` goes from boundary to boundary (before a task starts, after it ended), 2·N
steps.  Also the time from ``continue`` to the next breakpoint hit when a breakpoint with a
condition (``i == K``) sits on a task of a loop of N iterations: the condition is evaluated
at each iteration.

    python bench/debug_step_latency.py [--tasks 100] [--repeat 3]

Prints one JSON line per measurement: median and p95 in milliseconds, and the ratio of the
step's median to the round trip's.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from dap_client import DapClient  # noqa: E402


def chain(n: int) -> str:
    return 'workflow Chain {\n  version: "1.0.0"\n' + "".join(
        f'  task t{i} {{ agent: "echo" input: {{ i: {i} }} }}\n' for i in range(n)) + "}\n"


def loop(n: int) -> str:
    return ('workflow Loop {\n  version: "1.0.0"\n'
            f'  foreach x, i in range({n}) {{\n'
            '    task work {\n      agent: "echo"\n      input: { i: i }\n    }\n  }\n}\n')


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def session(folder: Path, source: str, breakpoints: list[dict[str, Any]],
            stop_on_entry: bool) -> DapClient:
    (folder / "flow.twdsl").write_text(source)
    dap = DapClient(folder)
    dap.request("initialize", {"adapterID": "twdsl"})
    seq = dap.send("launch", {"program": "flow.twdsl", "stopOnEntry": stop_on_entry})
    dap.launched(seq)
    dap.request("setBreakpoints", {"source": {"path": str(folder / "flow.twdsl")},
                                   "breakpoints": breakpoints})
    dap.request("configurationDone")
    assert dap.response(seq)["success"]
    dap.event("stopped")
    return dap


def steps(n: int, folder: Path) -> tuple[list[float], list[float]]:
    """Milliseconds of each ``next`` → ``stopped``, and of each ``threads`` round trip."""
    dap = session(folder, chain(n), [], True)
    step_ms, trip_ms = [], []
    for _ in range(2 * n - 1):
        t0 = time.perf_counter()
        dap.request("threads")
        trip_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        dap.send("next", {"threadId": 1})
        dap.event("stopped")
        step_ms.append((time.perf_counter() - t0) * 1000)
    dap.request("continue", {"threadId": 1})
    dap.event("terminated")
    dap.request("disconnect")
    dap.close()
    return step_ms, trip_ms


def conditional(n: int, folder: Path) -> float:
    """Milliseconds from ``continue`` to the hit of ``i == n - 1`` (the condition evaluated
    at each of n iterations), minus nothing: the whole loop runs in between."""
    dap = session(folder, loop(n), [{"line": 4, "condition": "i == 0"}], False)
    dap.request("setBreakpoints", {"source": {"path": str(folder / "flow.twdsl")},
                                   "breakpoints": [{"line": 4, "condition": f"i == {n - 1}"}]})
    t0 = time.perf_counter()
    dap.send("continue", {"threadId": 1})
    stopped = dap.event("stopped")
    elapsed = (time.perf_counter() - t0) * 1000
    assert stopped["description"] == f"before work[{n - 1}] starts", stopped
    dap.request("continue", {"threadId": 1})
    dap.event("terminated")
    dap.request("disconnect")
    dap.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    step_ms: list[float] = []
    trip_ms: list[float] = []
    for _ in range(a.repeat):
        s, t = steps(a.tasks, folder)
        step_ms += s
        trip_ms += t
    med_step, med_trip = statistics.median(step_ms), statistics.median(trip_ms)
    print(json.dumps({
        "bench": "debug_step_latency", "tasks": a.tasks, "steps": len(step_ms),
        "next_to_stopped_ms_median": round(med_step, 3),
        "next_to_stopped_ms_p95": round(quantile(step_ms, 0.95), 3),
        "threads_round_trip_ms_median": round(med_trip, 3),
        "threads_round_trip_ms_p95": round(quantile(trip_ms, 0.95), 3),
        "ratio_step_vs_round_trip": round(med_step / med_trip, 2)}), flush=True)
    runs = [conditional(a.tasks * 10, folder) for _ in range(a.repeat)]
    n = a.tasks * 10
    print(json.dumps({
        "bench": "debug_conditional_breakpoint", "iterations": n,
        "continue_to_hit_ms_median": round(statistics.median(runs), 1),
        "per_iteration_us": round(statistics.median(runs) * 1000 / n, 1)}), flush=True)


if __name__ == "__main__":
    main()
