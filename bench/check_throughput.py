"""Benchmark: the whole-file check, ``twdsl.analyze``, against the raw Lark parse (issue 3).

``twdsl.analyze(text, path)`` is what ``twdsl check`` and the language server run on a file:
parse, structure checks, names and scopes, the dependency graph, types (and whatever later
stages the working tree has).  Its limit is the raw Lark LALR parse of the same file with
positions (``twdsl.syntax.grammar.lark_parser(True)``, collector paused, as ``twdsl.parse``
pauses it), which builds a plain tree and checks nothing.  ``twdsl.parse`` is timed beside
them, so that the check's cost splits into parse and checks (analyze - parse, per repetition).
``analyze_gc_off`` is ``twdsl.analyze`` with the collector paused around the whole call: the
parse pauses it itself, the checks do not, so the difference is what the collector costs the
checks.

The input is ``bench/gen.py``'s ``generate(lines, checked=True)``: the parse benchmark's mix,
made semantically valid.  Before anything is timed the script asserts that ``twdsl.analyze``
reports no diagnostic on it and that Lark parses it; every timed ``analyze`` result is checked
again (outside the timing).  Repetitions are interleaved, the order rotating every repetition.
Each is timed by the wall clock and by the process's CPU clock: on a shared machine the CPU
clock leaves out the time other processes held the core, so its ratios are the steadier.

This measures; it never passes or fails.  Output: one JSON line per (size, what), one summary
line per size, one per 10x step, on stdout; a readable table on stderr.

    python bench/check_throughput.py            # 1k, 5k, 10k, 50k lines (~95 s on 2 cores)
    python bench/check_throughput.py --quick    # smoke run: 1k lines, 2 repetitions
    python bench/check_throughput.py --sizes 1000,10000,100000 --reps 3
    python bench/check_throughput.py --at HEAD  # time a commit, not the shared working tree

``--at REV`` extracts the package at a commit into a temporary directory (``git archive``, laid
out as installed: ``grammar/``, ``lsp/`` and ``runtime/`` under ``twdsl/``) and runs the same
command again with that directory first on ``PYTHONPATH``, so that other developers' uncommitted
edits are not what is measured; the environment line then names that commit and says
``"snapshot": true``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark

import twdsl
from twdsl.syntax.grammar import lark_parser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import generate  # noqa: E402
from parse_throughput import _git, emit, note  # noqa: E402

PATH = "bench.twdsl"
# (lines, reps); 5k is there so that there are two 10x steps: 1k -> 10k and 5k -> 50k
FULL: tuple[tuple[int, int], ...] = ((1_000, 9), (5_000, 5), (10_000, 5), (50_000, 3))
QUICK: tuple[tuple[int, int], ...] = ((1_000, 2),)
WHAT = ("lark", "parse", "analyze", "analyze_gc_off")


SNAPSHOT_ENV = "TWDSL_BENCH_SNAPSHOT"  # set by --at: the commit the snapshot was taken of
_LAYOUT = {"twdsl": "twdsl", "grammar": "twdsl/grammar", "lsp": "twdsl/lsp",
           "runtime": "twdsl/runtime"}  # pyproject's package-dir mapping


def rerun_at(rev: str, argv: list[str], script: str) -> int:
    """Run ``script`` again without ``--at``, importing twdsl from a snapshot of ``rev``."""
    root = Path(__file__).resolve().parent.parent
    sha = _git("rev-parse", "--short", f"{rev}^{{commit}}").strip()
    assert sha, f"not a commit: {rev}"
    data = subprocess.run(["git", "archive", "--format=tar", sha, *_LAYOUT], cwd=root,
                          capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix=f"twdsl-{sha}-") as site:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar.getmembers():
                top, _, rest = m.name.partition("/")
                if m.isfile():
                    m.name = f"{_LAYOUT[top]}/{rest}"
                    tar.extract(m, site, filter="data")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [site, *filter(None, [os.environ.get("PYTHONPATH")])]), **{SNAPSHOT_ENV: sha})
        return subprocess.run([sys.executable, script, *argv], env=env, check=False).returncode


def strip_at(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--at REV`` (or ``--at=REV``) and the other arguments."""
    rest: list[str] = []
    rev = None
    it = iter(argv)
    for a in it:
        if a == "--at":
            rev = next(it)
        elif a.startswith("--at="):
            rev = a[5:]
        else:
            rest.append(a)
    return rev, rest


def environment(bench: str) -> dict[str, Any]:
    """Where the figures come from: the commit, and which package files differ from it (the
    working tree is shared, so figures must never be attributed to a commit that did not
    produce them)."""
    snapshot = os.environ.get(SNAPSHOT_ENV)
    if snapshot:  # a clean export of one commit (--at): nothing of the working tree is used
        assert not Path(twdsl.__file__).resolve().is_relative_to(
            Path(__file__).resolve().parent.parent), twdsl.__file__
        env = {"bench": "environment", "for": bench, "nproc": os.cpu_count(),
               "python": platform.python_version(),
               "implementation": platform.python_implementation(), "lark": lark.__version__,
               "twdsl": twdsl.__version__, "twdsl_file": twdsl.__file__,
               "machine": platform.machine(), "system": platform.system(),
               "commit": snapshot, "snapshot": True, "twdsl_dirty": False,
               "loadavg": [round(x, 2) for x in os.getloadavg()]}
        emit(env)
        return env
    dirty = [line[3:] for line in _git("status", "--porcelain", "--", "twdsl", "grammar")
             .splitlines()]
    # of those, the ones this process has imported (what the in-process timings ran)
    root = Path(__file__).resolve().parent.parent
    loaded = {str(Path(f).resolve().relative_to(root)) for m in list(sys.modules.values())
              if (f := getattr(m, "__file__", None)) and Path(f).resolve().is_relative_to(root)}
    loaded_dirty = sorted(d for d in dirty if d in loaded or any(
        x.startswith(d) for x in loaded if d.endswith("/")))
    env = {"bench": "environment", "for": bench, "nproc": os.cpu_count(),
           "python": platform.python_version(),
           "implementation": platform.python_implementation(), "lark": lark.__version__,
           "twdsl": twdsl.__version__, "twdsl_file": twdsl.__file__,
           "machine": platform.machine(), "system": platform.system(),
           "commit": _git("rev-parse", "--short", "HEAD").strip(), "snapshot": False,
           "twdsl_dirty": bool(dirty), "dirty_files": dirty,
           "loaded_dirty_files": loaded_dirty,
           "loadavg": [round(x, 2) for x in os.getloadavg()]}
    emit(env)
    return env


def make_timed() -> dict[str, Callable[[str], Any]]:
    lp = lark_parser(True)

    def paused(fn: Callable[[str], Any]) -> Callable[[str], Any]:
        def run(text: str) -> Any:
            was = gc.isenabled()
            gc.disable()
            try:
                return fn(text)
            finally:
                if was:
                    gc.enable()
        return run

    return {
        "lark": paused(lambda text: lp.parse(text, start="start")),
        "parse": lambda text: twdsl.parse(text, PATH),
        "analyze": lambda text: twdsl.analyze(text, PATH),
        "analyze_gc_off": paused(lambda text: twdsl.analyze(text, PATH)),
    }


def check_input(text: str) -> int:
    """The input must check clean and parse with Lark before it is timed; returns tokens."""
    result = twdsl.analyze(text, PATH)
    assert result.diagnostics == [], [str(d) for d in result.diagnostics[:5]]
    tree = lark_parser(True).parse(text, start="start")
    assert tree.data == "start"
    return len(result.parse.tokens)


Runs = dict[str, dict[str, list[float]]]  # clock ("wall", "cpu") -> what -> times
CLOCKS = ("wall", "cpu")


def time_both(fn: Callable[[str], Any], text: str, clean: bool = False) -> tuple[float, float]:
    """Wall and CPU time of one call (parse_throughput's time_once, with the process's CPU
    time beside the wall time: on a shared machine the wall clock also counts the time other
    processes had the core, the CPU clock does not).  With ``clean``, the result must have no
    diagnostic (checked outside the timing)."""
    gc.collect()  # start every measurement from the same collector state (not timed)
    c0, t0 = time.process_time(), time.perf_counter()
    result = fn(text)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if clean:
        assert result.diagnostics == [], [str(d) for d in result.diagnostics[:5]]
    del result  # freeing the tree is not part of the measurement
    return wall, cpu


def measure(sizes: tuple[tuple[int, int], ...]) -> dict[int, tuple[int, Runs]]:
    timed = make_timed()
    warm = generate(300, checked=True)
    for fn in timed.values():  # build the grammar and every cache before timing
        fn(warm)
    out: dict[int, tuple[int, Runs]] = {}
    for target, reps in sizes:
        text = generate(target, checked=True)
        lines = text.count("\n")
        tokens = check_input(text)
        runs: Runs = {c: {w: [] for w in WHAT} for c in CLOCKS}
        for rep in range(reps):
            k = rep % len(WHAT)
            for name in WHAT[k:] + WHAT[:k]:  # interleaved, rotating
                wall, cpu = time_both(timed[name], text, name.startswith("analyze"))
                runs["wall"][name].append(wall)
                runs["cpu"][name].append(cpu)
        out[target] = (lines, runs)
        for name in WHAT:
            ts, cs = runs["wall"][name], runs["cpu"][name]
            med = statistics.median(ts)
            emit({"bench": "check_throughput", "size": target, "lines": lines,
                  "bytes": len(text.encode()), "tokens": tokens, "what": name, "reps": reps,
                  "median_s": round(med, 5), "min_s": round(min(ts), 5),
                  "max_s": round(max(ts), 5), "lines_per_s": round(lines / med),
                  "cpu_median_s": round(statistics.median(cs), 5),
                  "cpu_lines_per_s": round(lines / statistics.median(cs)),
                  "times_s": [round(t, 5) for t in ts], "cpu_times_s": [round(t, 5) for t in cs]})
    return out


def _paired(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def _checks(runs: dict[str, list[float]], analyze: str = "analyze") -> float:
    """Median of analyze - parse over the repetitions (each pair ran in the same round)."""
    return statistics.median(a - p for a, p in zip(runs[analyze], runs["parse"], strict=True))


def summarize(data: dict[int, tuple[int, Runs]], clock: str) -> list[dict[str, Any]]:
    rows = []
    for target, (lines, both) in sorted(data.items()):
        runs = both[clock]
        med = {w: statistics.median(runs[w]) for w in WHAT}
        checks_med = _checks(runs)
        row = {"bench": "check_summary", "clock": clock, "size": target, "lines": lines,
               "analyze_over_lark": round(med["analyze"] / med["lark"], 3),
               "analyze_over_lark_paired": round(_paired(runs["analyze"], runs["lark"]), 3),
               "analyze_gc_off_over_lark_paired":
                   round(_paired(runs["analyze_gc_off"], runs["lark"]), 3),
               "parse_over_lark_paired": round(_paired(runs["parse"], runs["lark"]), 3),
               "parse_share_of_analyze": round(med["parse"] / med["analyze"], 3),
               "checks_median_s": round(checks_med, 5),
               "checks_us_per_line": round(checks_med / lines * 1e6, 2),
               "checks_share_of_analyze": round(checks_med / med["analyze"], 3),
               "checks_over_lark": round(checks_med / med["lark"], 3),
               "checks_gc_off_median_s": round(_checks(runs, "analyze_gc_off"), 5),
               "checks_gc_off_us_per_line":
                   round(_checks(runs, "analyze_gc_off") / lines * 1e6, 2),
               "analyze_us_per_line": round(med["analyze"] / lines * 1e6, 2)}
        emit(row)
        rows.append(row)
    return rows


def scaling(data: dict[int, tuple[int, Runs]], clock: str) -> list[dict[str, Any]]:
    """time(10x lines) / time(lines) for every pair of sizes ten times apart.  The generated
    files are not exactly 10x apart in lines, so the ratio is also given for exactly 10x
    (time ratio x 10 / lines ratio: cost per line held at the measured growth)."""
    rows = []
    for small in sorted(data):
        if small * 10 not in data:
            continue
        (ls, bs), (lb, bb) = data[small], data[small * 10]
        rs, rb = bs[clock], bb[clock]
        row: dict[str, Any] = {"bench": "check_scaling", "clock": clock, "from_lines": ls,
                               "to_lines": lb, "lines_ratio": round(lb / ls, 3)}
        for w in WHAT:
            r = statistics.median(rb[w]) / statistics.median(rs[w])
            row[f"{w}_time_ratio"] = round(r, 2)
            row[f"{w}_time_ratio_at_10x"] = round(r * 10 / (lb / ls), 2)
        for a, key in (("analyze", "checks"), ("analyze_gc_off", "checks_gc_off")):
            row[f"{key}_time_ratio_at_10x"] = round(
                _checks(rb, a) / _checks(rs, a) * 10 / (lb / ls), 2)
        emit(row)
        rows.append(row)
    return rows


def gc_probe(sizes: tuple[tuple[int, int], ...]) -> list[dict[str, Any]]:
    """One more, untimed-by-the-tables ``analyze`` per size, with a gc callback summing the time
    the cyclic collector takes during it (the parse pauses the collector; the checks do not)."""
    acc: dict[str, Any] = {}

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            acc["t0"] = time.perf_counter()
        else:
            took = time.perf_counter() - acc["t0"]
            acc["s"] += took
            acc["gens"][info["generation"]] += 1
            acc["each"].append((took, info["generation"]))

    rows = []
    for target, _ in sizes:
        text = generate(target, checked=True)
        gc.collect()
        acc.update(s=0.0, gens=[0, 0, 0], each=[])
        gc.callbacks.append(callback)
        try:
            c0 = time.process_time()
            result = twdsl.analyze(text, PATH)
            cpu = time.process_time() - c0
        finally:
            gc.callbacks.remove(callback)
        del result
        row = {"bench": "check_gc", "size": target, "lines": text.count("\n"),
               "analyze_cpu_s": round(cpu, 4), "gc_s": round(acc["s"], 4),
               "gc_share": round(acc["s"] / cpu, 3), "collections_by_generation": acc["gens"],
               "largest_collections": [{"s": round(t, 4), "generation": g}
                                       for t, g in sorted(acc["each"], reverse=True)[:3]]}
        emit(row)
        rows.append(row)
    return rows


def profile(targets: list[int], top: int = 15) -> None:
    """cProfile of one ``analyze`` per size (the collector as twdsl leaves it), the ``top``
    functions by own time on stderr and as JSON lines; with two sizes, how each of the larger
    size's top functions grew, scaled to 10x the lines (10 = linear)."""
    twdsl.analyze(generate(300, checked=True), PATH)  # grammar and caches, outside the profile
    stats: dict[int, tuple[int, pstats.Stats]] = {}
    for target in targets:
        text = generate(target, checked=True)
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        result = twdsl.analyze(text, PATH)
        prof.disable()
        assert result.diagnostics == []
        del result
        st = pstats.Stats(prof, stream=sys.stderr)
        stats[target] = (text.count("\n"), st)
        note(f"\ncProfile of twdsl.analyze on {stats[target][0]} lines, top {top} by tottime:")
        st.sort_stats("tottime").print_stats(top)
        entries = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
        emit({"bench": "check_profile", "size": target, "lines": stats[target][0],
              "total_s": round(st.total_tt, 4),  # type: ignore[attr-defined]
              "top_tottime": [{"function": f"{Path(f).name}:{ln}({fn})", "ncalls": v[1],
                               "tottime_s": round(v[2], 4), "cumtime_s": round(v[3], 4)}
                              for (f, ln, fn), v in entries]})
    if len(stats) == 2:
        (ls, small), (lb, big) = (stats[t] for t in sorted(stats))
        scale = 10 / (lb / ls)
        grow = []
        for key, v in sorted(big.stats.items(), key=lambda kv: -kv[1][2])[:top]:  # type: ignore[attr-defined]
            sv = small.stats.get(key)  # type: ignore[attr-defined]
            if sv and sv[2] > 0:
                grow.append({"function": f"{Path(key[0]).name}:{key[1]}({key[2]})",
                             "tottime_at_10x": round(v[2] / sv[2] * scale, 2),
                             "ncalls_at_10x": round(v[1] / sv[1] * scale, 2)})
        emit({"bench": "check_profile_growth", "from_lines": ls, "to_lines": lb,
              "functions": grow})
        note(f"\ngrowth {ls} -> {lb} lines of the top functions, scaled to 10x (10 = linear):")
        for g in grow:
            note(f"  {g['tottime_at_10x']:>7.2f} tottime  {g['ncalls_at_10x']:>7.2f} calls  "
                 f"{g['function']}")


def main(argv: list[str] | None = None) -> int:
    rev, argv = strip_at(sys.argv[1:] if argv is None else argv)
    if rev is not None:
        return rerun_at(rev, argv, __file__)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1k lines, 2 repetitions")
    ap.add_argument("--sizes", help="comma-separated line counts instead of 1k,5k,10k,50k")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per size with --sizes")
    ap.add_argument("--at", metavar="REV", help="time twdsl as committed at REV (a snapshot)")
    ap.add_argument("--profile", metavar="LINES[,LINES]",
                    help="only profile analyze (cProfile, top 15 by tottime) at these sizes")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    environment("check_throughput")
    if args.profile:
        profile([int(n) for n in args.profile.split(",")])
        return 0
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        sizes = tuple((int(n), args.reps) for n in args.sizes.split(","))
    data = measure(sizes)
    rows = {c: summarize(data, c) for c in CLOCKS}
    steps = {c: scaling(data, c) for c in CLOCKS}
    gcs = gc_probe(sizes)
    emit({"bench": "end", "loadavg": [round(x, 2) for x in os.getloadavg()],
          "total_s": round(time.perf_counter() - started, 1)})

    for clock in CLOCKS:
        note(f"\n[{clock} clock]")
        note(f"{'lines':>7}  " + "".join(f"{w + ' s':>17}" for w in WHAT)
             + "   analyze/lark (paired)   checks s  checks share")
        for row in rows[clock]:
            runs = data[row["size"]][1][clock]
            meds = "".join(f"{statistics.median(runs[w]):>17.4f}" for w in WHAT)
            note(f"{row['lines']:>7}  {meds}   {row['analyze_over_lark']:>6.3f} "
                 f"({row['analyze_over_lark_paired']:.3f})      {row['checks_median_s']:>8.4f}"
                 f"  {row['checks_share_of_analyze']:>6.3f}")
        for s in steps[clock]:
            note(f"{s['from_lines']} -> {s['to_lines']} lines (x{s['lines_ratio']}), at 10x: "
                 + ", ".join(f"{w} {s[f'{w}_time_ratio_at_10x']}" for w in WHAT)
                 + f", checks {s['checks_time_ratio_at_10x']}"
                 + f", checks gc off {s['checks_gc_off_time_ratio_at_10x']}")
    note("\ncyclic gc during one analyze (untimed pass): " + ", ".join(
        f"{g['lines']} lines {g['gc_s']:.3f} s = {g['gc_share']:.1%} of its CPU time" for g in gcs))
    note(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
