"""Benchmark: parse throughput of ``twdsl.parse`` against Lark's own LALR parser (issue 2).

The peer is Lark's LALR parser for the same grammar with ``propagate_positions=True``
(``twdsl.syntax.grammar.lark_parser(True)``), building a plain Lark tree: the limit a Lark
front end works against.  It is timed twice, with the garbage collector on (what a caller
gets by default) and with it off during the parse (``twdsl.parse`` pauses the collector
itself, so this is the like-for-like peer).  All three are measured in the same run,
interleaved (the order rotates every repetition) so that machine noise hits all of them;
the figures that matter are the medians and their ratios, not absolute times.

This measures; it never passes or fails.  Output: one JSON line per (size, parser), one per
ratio summary, one for peak memory, on stdout; a readable table on stderr.

    python bench/parse_throughput.py            # sizes 1k, 10k, 50k lines (~1-2 min, 2 cores)
    python bench/parse_throughput.py --quick    # smoke run: 1k lines, 2 repetitions
    python bench/parse_throughput.py --sizes 1000,100000 --reps 3 --no-memory   # other sizes
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark

import twdsl
from twdsl.syntax.grammar import lark_parser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import generate  # noqa: E402

PATH = "bench.twdsl"
FULL: tuple[tuple[int, int], ...] = ((1_000, 7), (10_000, 5), (50_000, 3))  # (lines, reps)
QUICK: tuple[tuple[int, int], ...] = ((1_000, 2),)
MEMORY_LINES = 10_000
PARSERS = ("lark_gc_on", "lark_gc_off", "twdsl")


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=False), flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def make_parsers() -> dict[str, Callable[[str], Any]]:
    lp = lark_parser(True)

    def lark_gc_on(text: str) -> Any:
        return lp.parse(text, start="start")

    def lark_gc_off(text: str) -> Any:
        was = gc.isenabled()
        gc.disable()
        try:
            return lp.parse(text, start="start")
        finally:
            if was:
                gc.enable()

    def twdsl_parse(text: str) -> Any:
        return twdsl.parse(text, PATH)

    return {"lark_gc_on": lark_gc_on, "lark_gc_off": lark_gc_off, "twdsl": twdsl_parse}


def check_input(text: str) -> int:
    """The input must be valid for both parsers before anything is timed; returns tokens."""
    result = twdsl.parse(text, PATH)
    assert result.diagnostics == [], [str(d) for d in result.diagnostics[:5]]
    tree = lark_parser(True).parse(text, start="start")
    assert tree.data == "start"
    return len(result.tokens)


def time_once(fn: Callable[[str], Any], text: str) -> float:
    gc.collect()  # start every measurement from the same collector state (not timed)
    t0 = time.perf_counter()
    result = fn(text)
    elapsed = time.perf_counter() - t0
    del result  # freeing the tree is not part of the measurement
    return elapsed


def measure(sizes: tuple[tuple[int, int], ...]) -> dict[int, dict[str, list[float]]]:
    parsers = make_parsers()
    warm = generate(300)
    for fn in parsers.values():  # build the grammar and every cache before timing
        fn(warm)
    times: dict[int, dict[str, list[float]]] = {}
    for target, reps in sizes:
        text = generate(target)
        lines = text.count("\n")
        tokens = check_input(text)
        runs: dict[str, list[float]] = {p: [] for p in PARSERS}
        for rep in range(reps):
            order = PARSERS[rep % 3:] + PARSERS[:rep % 3]  # interleaved, rotating
            for name in order:
                runs[name].append(time_once(parsers[name], text))
        times[lines] = runs
        for name in PARSERS:
            ts = runs[name]
            med = statistics.median(ts)
            emit({"bench": "parse_throughput", "size": target, "lines": lines,
                  "bytes": len(text.encode()), "tokens": tokens, "parser": name, "reps": reps,
                  "median_s": round(med, 5), "min_s": round(min(ts), 5),
                  "max_s": round(max(ts), 5), "lines_per_s": round(lines / med),
                  "tokens_per_s": round(tokens / med), "times_s": [round(t, 5) for t in ts]})
    return times


def summarize(times: dict[int, dict[str, list[float]]]) -> list[dict[str, Any]]:
    rows = []
    first = min(times)
    for lines, runs in sorted(times.items()):
        med = {p: statistics.median(runs[p]) for p in PARSERS}
        row: dict[str, Any] = {"bench": "parse_throughput_summary", "lines": lines}
        for peer in ("lark_gc_on", "lark_gc_off"):
            # ratio of medians, and median of the per-repetition ratios (paired: same noise)
            row[f"twdsl_over_{peer}"] = round(med["twdsl"] / med[peer], 3)
            paired = [t / p for t, p in zip(runs["twdsl"], runs[peer], strict=True)]
            row[f"twdsl_over_{peer}_paired"] = round(statistics.median(paired), 3)
        for p in PARSERS:
            # lines/s at this size relative to the smallest size: 1.0 is flat, < 1 is slower
            base = first / statistics.median(times[first][p])
            row[f"{p}_throughput_vs_{first}"] = round((lines / med[p]) / base, 3)
        emit(row)
        rows.append(row)
    return rows


def memory(lines_target: int) -> dict[str, Any]:
    """Peak and retained Python allocations of one parse (tracemalloc; untimed pass)."""
    text = generate(lines_target)
    parsers = make_parsers()
    out: dict[str, Any] = {"bench": "parse_memory", "lines": text.count("\n"),
                           "bytes": len(text.encode())}
    for name in ("lark_gc_off", "twdsl"):  # gc state does not change what is allocated
        gc.collect()
        tracemalloc.start()
        result = parsers[name](text)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del result
        label = "lark" if name.startswith("lark") else name
        out[f"{label}_peak_mib"] = round(peak / 2**20, 2)
        out[f"{label}_retained_mib"] = round(retained / 2**20, 2)
    out["twdsl_over_lark_peak"] = round(out["twdsl_peak_mib"] / out["lark_peak_mib"], 3)
    emit(out)
    return out


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent.parent, check=False).stdout
    except OSError:
        return ""


def environment() -> dict[str, Any]:
    # "parser_dirty": uncommitted changes to the parser or grammar, so that figures are
    # never attributed to a commit that did not produce them
    env = {"bench": "environment", "nproc": os.cpu_count(), "python": platform.python_version(),
           "implementation": platform.python_implementation(), "lark": lark.__version__,
           "twdsl": twdsl.__version__, "machine": platform.machine(),
           "system": platform.system(), "commit": _git("rev-parse", "--short", "HEAD").strip(),
           "parser_dirty": bool(_git("status", "--porcelain", "--", "twdsl", "grammar").strip())}
    emit(env)
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1k lines, 2 repetitions")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    ap.add_argument("--sizes", help="comma-separated line counts instead of 1000,10000,50000")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per size with --sizes")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    environment()
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        sizes = tuple((int(n), args.reps) for n in args.sizes.split(","))
    times = measure(sizes)
    rows = summarize(times)
    mem = None if args.no_memory or args.quick else memory(MEMORY_LINES)

    note("")
    note(f"{'lines':>7}  {'parser':<12} {'median s':>9} {'lines/s':>9}  twdsl/peer  (paired)")
    for row, (lines, runs) in zip(rows, sorted(times.items()), strict=True):
        for p in PARSERS:
            med = statistics.median(runs[p])
            ratio = ""
            if p != "twdsl":
                ratio = f"{row[f'twdsl_over_{p}']:>10.3f}  ({row[f'twdsl_over_{p}_paired']:.3f})"
            note(f"{lines:>7}  {p:<12} {med:>9.4f} {lines / med:>9.0f}  {ratio}")
    last = rows[-1]
    note("throughput at the largest size relative to the smallest (1.0 = flat): " + ", ".join(
        f"{p} {last[f'{p}_throughput_vs_{min(times)}']:.3f}" for p in PARSERS))
    if mem is not None:
        note(f"memory at {mem['lines']} lines: peak twdsl {mem['twdsl_peak_mib']} MiB, "
             f"lark {mem['lark_peak_mib']} MiB (ratio {mem['twdsl_over_lark_peak']}); retained "
             f"twdsl {mem['twdsl_retained_mib']} MiB, lark {mem['lark_retained_mib']} MiB")
    note(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
