"""Benchmark: timings that were once assertions in the test suite (issue 16: a timing in a
test fails on a busy machine), each measured against a peer in the same run.

* ``layout``: the same 2,000 tasks on one line and one per line; ``twdsl.parse`` of each.
  Linear parsing keeps one-line ÷ many-lines near 1 (the test allowed up to 4).
* ``suggestions``: a workflow of 1,000 tasks each depending on a misspelt name (1,000
  did-you-mean searches) against the same workflow spelt right; ``twdsl.analyze`` of each.
  The ratio is the price of the suggestions (the test allowed 10 s; it once took 20 s).

This measures; it never passes or fails.  One JSON line per measure on stdout, a table on
stderr.

    python bench/timing_guards.py            # 7 repetitions (~30 s)
    python bench/timing_guards.py --quick    # 2 repetitions
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import twdsl

ROOT = Path(__file__).resolve().parent.parent


def _median(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    reps = 2 if ap.parse_args().quick else 7
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                      "commit": commit, "repetitions": reps}))

    tasks = [f'task t{i} {{ agent: "A" }}' for i in range(2000)]
    one = 'workflow W { version: "1.0.0" ' + " ".join(tasks) + " }"
    many = 'workflow W {\n version: "1.0.0"\n' + "\n".join(tasks) + "\n}"
    assert twdsl.parse(one, "x").diagnostics == twdsl.parse(many, "x").diagnostics == []
    t_one = _median(lambda: twdsl.parse(one, "x"), reps)
    t_many = _median(lambda: twdsl.parse(many, "x"), reps)
    row = {"measure": "layout", "one_line_s": t_one, "many_lines_s": t_many,
           "ratio": t_one / t_many}
    print(json.dumps(row))
    print(f"parse, 2,000 tasks: one line {t_one:.3f} s, one per line {t_many:.3f} s, "
          f"ratio {row['ratio']:.2f}", file=sys.stderr)

    def flow(dep: Callable[[int], str]) -> str:
        body = "\n".join(f'  task t{i:04d} {{ agent: "A" depends: [{dep(i)}] }}'
                         for i in range(1000))
        return f'workflow W {{\n  version: "1.0.0"\n  task start {{ agent: "A" }}\n{body}\n}}\n'

    wrong = flow(lambda i: f"x{i:04d}")  # each a did-you-mean search
    right = flow(lambda i: f"t{i - 1:04d}" if i else "start")
    assert twdsl.analyze(right, "f").diagnostics == []
    assert len(twdsl.analyze(wrong, "f").diagnostics) == 1000
    t_wrong = _median(lambda: twdsl.analyze(wrong, "f"), reps)
    t_right = _median(lambda: twdsl.analyze(right, "f"), reps)
    row = {"measure": "suggestions", "misspelt_s": t_wrong, "spelt_right_s": t_right,
           "ratio": t_wrong / t_right}
    print(json.dumps(row))
    print(f"analyze, 1,000 tasks: 1,000 misspelt references {t_wrong:.3f} s, spelt right "
          f"{t_right:.3f} s, ratio {row['ratio']:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
