"""Benchmark: the formatter on deeply nested input (issue 16), against the parse of the same
text (the lower bound: a file is parsed before it is formatted).

Shapes, each at several depths: nested arrays (``[[[…1…]]]``, every level on lines of its
own once it passes 100 columns), nested objects as field values, nested ``parallel`` blocks,
and a ``+`` chain (deep, but written on one line).  For each, the median over the repetitions
of ``twdsl.parse`` and of ``format_parsed`` on that parse, interleaved; the figure that
matters is format ÷ parse per depth, and how it moves as the depth grows (flat: linear).

The formatter before issue 16 took time exponential in the nesting of arrays (64 levels did
not finish in 25 s); ``--before`` also times that formatter from git (``git show
b0f178e:twdsl/formatter.py``) at the depths it can do.

This measures; it never passes or fails.  One JSON line per (shape, depth) on stdout, a table
on stderr.

    python bench/format_nesting.py             # depths 16..990, 5 repetitions (~1 min)
    python bench/format_nesting.py --quick     # depths 16, 64, 2 repetitions
    python bench/format_nesting.py --before    # also the old formatter (arrays up to 56)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import twdsl
from twdsl.formatter import format_parsed

ROOT = Path(__file__).resolve().parent.parent

SHAPES: dict[str, Callable[[int], str]] = {
    "array": lambda n: 'workflow W {\n  version: "1.0.0"\n  tags: ' + "[" * n + "1" + "]" * n
    + "\n}\n",
    "object": lambda n: 'workflow W {\n  version: "1.0.0"\n  task t {\n    agent: "A"\n    input: '
    + "{ a: " * n + "1" + " }" * n + "\n  }\n}\n",
    "parallel": lambda n: 'workflow W {\n  version: "1.0.0"\n' + "parallel { " * n
    + 'task t { agent: "A" }' + " }" * n + "\n}\n",
    "plus": lambda n: 'workflow W {\n  version: "1.0.0"\n  tags: ' + " + ".join(["1"] * n)
    + "\n}\n",
}


def _old_formatter() -> Any:
    text = subprocess.run(["git", "show", "b0f178e:twdsl/formatter.py"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_formatter.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_formatter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--before", action="store_true")
    args = ap.parse_args()
    depths = [16, 64] if args.quick else [16, 64, 128, 256, 512, 990]
    reps = 2 if args.quick else 5
    old = _old_formatter() if args.before else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                      "commit": commit}))
    print(f"{'shape':9} {'depth':>6} {'parse s':>9} {'format s':>9} {'fmt/parse':>9}"
          + (f" {'old s':>9}" if old else ""), file=sys.stderr)
    for shape, make in SHAPES.items():
        for n in depths:
            text = make(n)
            parsed = twdsl.parse(text, "b")
            format_parsed(parsed)  # warm
            p, f, o = [], [], []
            for _ in range(reps):
                p.append(_time(lambda: twdsl.parse(text, "b")))  # noqa: B023
                f.append(_time(lambda: format_parsed(parsed)))  # noqa: B023
                if old is not None and (shape != "array" or n <= 56):
                    o.append(_time(lambda: old.format_parsed(parsed)))  # noqa: B023
            row = {"shape": shape, "depth": n, "parse_s": statistics.median(p),
                   "format_s": statistics.median(f),
                   "format_over_parse": statistics.median(f) / statistics.median(p)}
            if o:
                row["old_format_s"] = statistics.median(o)
            print(json.dumps(row))
            print(f"{shape:9} {n:>6} {row['parse_s']:>9.4f} {row['format_s']:>9.4f} "
                  f"{row['format_over_parse']:>9.3f}"
                  + (f" {row.get('old_format_s', float('nan')):>9.4f}" if old else ""),
                  file=sys.stderr)
    if old is not None:  # where the old one explodes: arrays past 100 columns
        print(f"{'old array':9} {'depth':>6} {'old s':>9} {'new s':>9}", file=sys.stderr)
        for n in (50, 52, 54, 56):
            parsed = twdsl.parse(SHAPES["array"](n), "b")
            row = {"shape": "array-old", "depth": n,
                   "old_format_s": _time(lambda: old.format_parsed(parsed)),  # noqa: B023
                   "format_s": _time(lambda: format_parsed(parsed))}  # noqa: B023
            print(json.dumps(row))
            print(f"{'':9} {n:>6} {row['old_format_s']:>9.4f} {row['format_s']:>9.4f}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
