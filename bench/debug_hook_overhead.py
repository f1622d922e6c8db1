"""What the engine's task observer (``RunOptions.observer``, the debugger's hook) costs: the
engine of this tree, side by side with the engine just before the hook (the newest commit
whose runtime/engine.py has no observer, or ``--before REV``; taken from git), on the shapes
of bench/runtime_overhead.py (no-op async agents, no store).  Also this engine with a no-op observer (what a debug run with no
breakpoint pays) and with the debugger's session as the observer and a breakpoint whose
condition never holds on every task (what a conditional breakpoint pays).

Runs alternate between the engines (A B B A …) and time CPU time of this process, so that
other load on the machine falls on both alike.

    python bench/debug_hook_overhead.py [--before REV] [--repeat 21]

Prints one JSON line per shape: medians in µs per task and the ratios to the engine before.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_overhead import Agents, source  # noqa: E402

from twdsl.compiler import compile_source  # noqa: E402
from twdsl.config import DEFAULT  # noqa: E402
from twdsl.debug.expressions import ExpressionCompiler  # noqa: E402
from twdsl.debug.protocol import Channel  # noqa: E402
from twdsl.debug.session import Breakpoint, DebugSession, Launch  # noqa: E402
from twdsl.runtime import engine as current  # noqa: E402
from twdsl.runtime.events import Fanout  # noqa: E402

def before_the_hook() -> str:
    """The newest commit whose runtime/engine.py has no observer: the engine just before the
    hook came in."""
    revs = subprocess.run(["git", "log", "--format=%H", "--", "runtime/engine.py"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.split()
    for rev in revs:
        text = subprocess.run(["git", "show", f"{rev}:runtime/engine.py"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout
        if "observer" not in text:
            return rev[:7]
    raise SystemExit("no revision of runtime/engine.py without the observer")


def engine_at(rev: str) -> ModuleType:
    text = subprocess.run(["git", "show", f"{rev}:runtime/engine.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "engine_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("engine_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_before"] = module
    spec.loader.exec_module(module)
    return module


class Nothing:
    async def before_task(self, engine: Any, node: Any, frame: Any) -> None:
        return None

    async def after_task(self, engine: Any, node: Any, frame: Any, failure: Any) -> None:
        return None


def session(program: Any, text: str) -> DebugSession:
    """The debugger's session with a breakpoint on every task whose condition is false."""
    s = DebugSession(Channel(io.BytesIO()), lambda args: None)  # type: ignore[arg-type,return-value]
    s.launch = Launch(program, {}, Agents(), ExpressionCompiler.for_program(
        program, text, DEFAULT, "."), ".")
    tasks = [n for n in program.nodes.values() if isinstance(n, current.M.TaskNode)]
    cond = s.launch.expressions.condition("retry_count < 0", tasks[0])  # the same everywhere
    for node in tasks:
        s.by_node[node.id] = [Breakpoint(1, 1, "retry_count < 0", {}, [node], {node.id: cond},
                                         True, None)]
    return s


def once(module: ModuleType, program: Any, observer: Any, tasks: int) -> float:
    options = module.RunOptions(max_concurrency=64)
    if observer is not None:
        options.observer = observer
    engine = module.Engine(program, Agents(), Fanout([]), options)
    if isinstance(observer, DebugSession):
        observer.engine = engine
    t0 = time.process_time()
    result = asyncio.run(engine.run({}))
    elapsed = time.process_time() - t0
    assert result.status.value == "completed", result.error
    return elapsed * 1e6 / tasks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=None, help="the engine to compare with (default: the "
                    "newest commit whose engine has no observer)")
    ap.add_argument("--repeat", type=int, default=21)
    a = ap.parse_args()
    rev = a.before or before_the_hook()
    before = engine_at(rev)
    for shape, n, tasks in (("foreach", 10_000, 10_000), ("chain", 1_000, 1_000),
                            ("diamond", (100, 20), 2_000)):
        text = source(shape, n)
        program = compile_source(text, "b.twdsl", optimize=0).program
        assert program is not None
        runs: dict[str, list[float]] = {"before": [], "after": [], "noop": [], "session": []}
        debugger = session(program, text)
        for i in range(a.repeat):
            order = ["before", "after", "noop", "session"]
            for name in order if i % 2 == 0 else reversed(order):
                if name == "before":
                    runs[name].append(once(before, program, None, tasks))
                elif name == "after":
                    runs[name].append(once(current, program, None, tasks))
                elif name == "noop":
                    runs[name].append(once(current, program, Nothing(), tasks))
                else:
                    runs[name].append(once(current, program, debugger, tasks))
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(json.dumps({
            "bench": "debug_hook_overhead", "before": rev, "shape": shape, "tasks": tasks, "repeat": a.repeat,
            "before_us_per_task": round(med["before"], 2),
            "after_no_observer_us_per_task": round(med["after"], 2),
            "noop_observer_us_per_task": round(med["noop"], 2),
            "session_false_condition_us_per_task": round(med["session"], 2),
            "ratio_after_vs_before": round(med["after"] / med["before"], 3),
            "ratio_noop_vs_before": round(med["noop"] / med["before"], 3),
            "ratio_session_vs_before": round(med["session"] / med["before"], 3)}), flush=True)


if __name__ == "__main__":
    main()
