"""Benchmark: the compiler's cost split by stage, and the IR's size (issue 4).

For generated workflows (``bench/gen.py``'s ``generate(lines, checked=True)``: the parse
benchmark's mix, semantically valid) it times, per repetition and in this order:

* ``parse``: ``twdsl.parse`` (the collector paused, as twdsl pauses it);
* ``check``: ``twdsl.analysis.analyze_parsed`` on that parse (names, types, graph, lint);
* ``lower``: ``twdsl.lowering.lower_workflows`` of every workflow of the file (one shared
  set-up per file), then ``twdsl.ir.validate.validate`` of each program (its memo of the
  expressions checked handed on to the passes' checks, as ``twdsl.compiler`` does);
* ``passes``: ``twdsl.passes.run_passes(program, 1)`` of each (every -O1 pass, each followed
  by the invariant check, as ``twdsl compile`` runs them).

Lowering and the passes run with the cyclic collector paused, as ``twdsl.compiler`` runs
them (and as the parse runs).

It reports medians over the repetitions (CPU time of the process: steadier than the wall
clock on a shared machine), the aim's ratio ``(lower + passes) / parse`` (aim: <= 0.25), the
growth for 10x the lines (aim: linear, ~10x), and the IR's size (nodes, bytes of JSON).
It measures; it never passes or fails.  One JSON line per size on stdout, a table on stderr.

    python bench/compile_speed.py                 # 1k, 10k, 50k lines
    python bench/compile_speed.py --quick         # 1k lines, 2 repetitions
    python bench/compile_speed.py --sizes 1000,5000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import twdsl
from twdsl.analysis import analyze_parsed
from twdsl.ir.validate import Memo, validate
from twdsl.lowering import lower_workflows
from twdsl.passes import run_passes
from twdsl.recursion import deep_recursion, gc_paused
from twdsl.syntax import ast as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import generate  # noqa: E402

PATH = "bench.twdsl"
FULL = ((1_000, 7), (10_000, 5), (50_000, 3))
QUICK = ((1_000, 2),)


def once(text: str) -> tuple[dict[str, float], dict[str, int]]:
    """One repetition: CPU seconds per stage, and the size of what came out."""
    t: dict[str, float] = {}
    c0 = time.process_time()
    parsed = twdsl.parse(text, PATH)
    c1 = time.process_time()
    analysis = analyze_parsed(parsed)
    c2 = time.process_time()
    assert analysis.ok, [d.message for d in analysis.diagnostics][:3]
    decls = [d for d in parsed.module.items if isinstance(d, A.WorkflowDecl)]
    programs = []
    memos: list[Memo] = []
    c3 = time.process_time()
    with deep_recursion(), gc_paused():  # as twdsl.compiler runs them
        for program, errors in lower_workflows(analysis.scope, parsed.source, decls):
            assert program is not None, [e.message for e in errors]
            memos.append({})
            validate(program, memo=memos[-1])
            programs.append(program)
        c4 = time.process_time()
        optimized = [run_passes(p, 1, m) for p, m in zip(programs, memos, strict=True)]
        c5 = time.process_time()
    t = {"parse": c1 - c0, "check": c2 - c1, "lower": c4 - c3, "passes": c5 - c4}
    size = {"workflows": len(decls),
            "nodes": sum(len(p.nodes) for p in optimized),
            "nodes_O0": sum(len(p.nodes) for p in programs),
            "ir_bytes": sum(len(p.to_json().encode()) for p in optimized),
            "changes": sum(len(p.changes) for p in optimized)}
    return t, size


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", help="comma-separated line counts")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args(argv)
    plan: tuple[tuple[int, int], ...] = QUICK if args.quick else FULL
    if args.sizes:
        plan = tuple((int(s), args.reps or 3) for s in args.sizes.split(","))
    elif args.reps:
        plan = tuple((n, args.reps) for n, _ in plan)
    print(json.dumps({"env": {"python": platform.python_version(),
                              "machine": platform.machine(), "twdsl": twdsl.__version__}}))
    rows: list[dict[str, Any]] = []
    for lines, reps in plan:
        text = generate(lines, checked=True)
        once(text)  # warm-up: imports, the LALR table, caches
        runs = [once(text) for _ in range(reps)]
        med = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
        row = {"lines": text.count("\n"), "reps": reps,
               **{f"{k}_ms": round(v * 1000, 2) for k, v in med.items()},
               "lower_passes_over_parse": round((med["lower"] + med["passes"]) / med["parse"], 3),
               "lower_over_parse": round(med["lower"] / med["parse"], 3),
               "passes_over_parse": round(med["passes"] / med["parse"], 3),
               **runs[0][1]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for a, b in zip(rows, rows[1:], strict=False):
        step = {"from": a["lines"], "to": b["lines"],
                **{f"{k}_growth": round(b[f"{k}_ms"] / a[f"{k}_ms"], 2)
                   for k in ("parse", "check", "lower", "passes")}}
        print(json.dumps(step))
    print(f"{'lines':>7} {'parse':>9} {'check':>9} {'lower':>9} {'passes':>9} "
          f"{'(l+p)/parse':>11} {'nodes':>7} {'IR KiB':>8}", file=sys.stderr)
    for r in rows:
        print(f"{r['lines']:>7} {r['parse_ms']:>7.1f}ms {r['check_ms']:>7.1f}ms "
              f"{r['lower_ms']:>7.1f}ms {r['passes_ms']:>7.1f}ms "
              f"{r['lower_passes_over_parse']:>11.3f} {r['nodes']:>7} "
              f"{r['ir_bytes'] / 1024:>8.0f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
