"""Benchmark: ``twdsl diff``'s comparison against what it cannot avoid, compiling both versions.

For generated files (``bench/gen.py``: ``generate(lines, checked=True)``, many workflows, and
``chain(n)``, one workflow of n tasks), it times per repetition:

* ``compile``: :func:`twdsl.versions.sources.compile_version` of the old and the new version
  (parse, check, lower every workflow at -O0: what ``twdsl diff`` does before comparing);
* ``diff``: :func:`twdsl.versions.diff.diff_workflows` of the two (the pure comparison: what
  resuming a run with a changed workflow would pay, the programs being at hand).

The new version renames one task (so the comparison has something to find).  It reports
medians of CPU time and the ratio ``diff / compile`` (aim: well under 0.1: the comparison is
a small part of a diff).  It measures; it never passes or fails.  One JSON line per input on
stdout, a table on stderr.

    python bench/diff_speed.py            # 2k and 20k lines, chains of 200 and 2000 tasks
    python bench/diff_speed.py --quick    # 2k lines and a chain of 200, 2 repetitions
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from twdsl.versions.diff import diff_workflows
from twdsl.versions.sources import Source, compile_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import chain, generate  # noqa: E402


def _nothing(_: str) -> None:
    return None


def inputs(quick: bool) -> list[tuple[str, str, str]]:
    """(name, old text, new text)."""
    out = []
    for lines in (2_000,) if quick else (2_000, 20_000):
        text = generate(lines, checked=True)
        out.append((f"generate({lines})", text, text.replace("task ", "task renamed_", 1)))
    for n in (200,) if quick else (200, 2_000):
        text = chain(n)
        k = n // 2
        out.append((f"chain({n})", text, text.replace(f"task t{k} ", f"task t{k}x ")
                    .replace(f"t{k}.result", f"t{k}x.result")))
    return out


def measure(old: str, new: str, reps: int) -> dict[str, float]:
    compile_s, diff_s = [], []
    changes = 0
    for _ in range(reps):
        c0 = time.process_time()
        a = compile_version(Source("old.twdsl", "old.twdsl", old, _nothing))
        b = compile_version(Source("new.twdsl", "new.twdsl", new, _nothing))
        c1 = time.process_time()
        diffs = diff_workflows(a.programs, b.programs, a.locations, b.locations)
        c2 = time.process_time()
        compile_s.append(c1 - c0)
        diff_s.append(c2 - c1)
        changes = sum(len(d.changes) for d in diffs)
    nodes = sum(len(p.nodes) for p in a.programs.values())
    c, d = statistics.median(compile_s), statistics.median(diff_s)
    return {"compile_s": round(c, 4), "diff_s": round(d, 5), "ratio": round(d / c, 4),
            "nodes": nodes, "workflows": len(a.programs), "changes": changes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 5)
    print(f"{'input':<18} {'nodes':>6} {'compile s':>10} {'diff s':>9} {'diff/compile':>13}",
          file=sys.stderr)
    for name, old, new in inputs(args.quick):
        r = measure(old, new, reps)
        print(json.dumps({"bench": "diff", "input": name, "reps": reps,
                          "python": platform.python_version(), **r}))
        print(f"{name:<18} {r['nodes']:>6} {r['compile_s']:>10.3f} {r['diff_s']:>9.4f} "
              f"{r['ratio']:>13.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
