"""Benchmark: ``twdsl.analyze`` side by side with miniwdl's ``check`` on the same workflow shape
(issue 3).

The shape, in both languages (``bench/gen.py``'s ``chain(n)`` and ``wdl_chain(n)``): one task
definition / agent signature with an input and an output; a workflow with ``n`` calls / tasks,
each reading the previous one's output (a chain of ``n`` data dependencies); a ``scatter`` /
``foreach`` over an array input with one call / task inside; outputs that read the last call
and the scattered one.  Both tools must report nothing on both files: every timed result is
checked (outside the timing); nothing is timed twice to check it.

Timed in the same process, interleaved (the order alternates every repetition), after a
warm-up on a 10-call file so that both grammars are built:

- **twdsl**: ``twdsl.analyze(Path(p).read_text(), p)``: read, parse, every check.
- **miniwdl**: what ``miniwdl check --suppress CommandShellCheck p`` does in process, minus
  printing its outline: ``WDL.load(p, check_quant=True)`` (read, parse, resolve, typecheck),
  then ``WDL.Lint.lint(doc)`` with shellcheck off.  Load and lint are also reported apart.

With ``--cli`` (default: at the smallest size only), both command lines are also timed as
subprocesses, interpreter start-up included: ``miniwdl check --suppress CommandShellCheck p``
and ``twdsl check p`` (its console script's entry point, run by this interpreter), and each
tool's ``--version`` alone, to show what start-up costs.

miniwdl is a bench-only dependency (``pip install miniwdl`` into the dev venv); it is not in
pyproject.  Its check grows quadratically with the calls, so at the largest size it is
timed once by default (about two minutes on a 2-core machine); ``--miniwdl-reps`` changes that.

This measures; it never passes or fails.  Output: JSON lines on stdout, a table on stderr.

    python bench/check_vs_miniwdl.py           # N = 1,000 and 5,000 (~2-2.5 min on 2 cores)
    python bench/check_vs_miniwdl.py --quick   # smoke run: N = 200, 2 repetitions
    python bench/check_vs_miniwdl.py --at HEAD # twdsl as committed (see check_throughput.py)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import WDL
import WDL.Lint

import twdsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_throughput import environment, rerun_at, strip_at, time_both  # noqa: E402
from gen import chain, wdl_chain  # noqa: E402
from parse_throughput import emit, note  # noqa: E402

# (N, twdsl reps, miniwdl reps)
FULL: tuple[tuple[int, int, int], ...] = ((1_000, 7, 3), (5_000, 5, 1))
QUICK: tuple[tuple[int, int, int], ...] = ((200, 2, 2),)
BIN = Path(sys.executable).parent
# what the `twdsl` console script runs, with this interpreter and this PYTHONPATH (so that
# `--at` measures the snapshot's command line too)
TWDSL_CLI = [sys.executable, "-c", "import sys; from twdsl.cli import main; sys.exit(main())"]


def run_twdsl(path: str) -> Any:
    return twdsl.analyze(Path(path).read_text(encoding="utf-8"), path)


def run_miniwdl(path: str, split: dict[str, float]) -> Any:
    t0 = time.perf_counter()
    doc = WDL.load(path, check_quant=True)
    t1 = time.perf_counter()
    WDL.Lint.lint(doc)
    split["load"], split["lint"] = t1 - t0, time.perf_counter() - t1
    return doc


def assert_clean_twdsl(result: Any) -> None:
    assert result.diagnostics == [], [str(d) for d in result.diagnostics[:5]]


def assert_clean_miniwdl(doc: Any) -> None:
    # WDL.load raises on any error; lint findings are warnings, and there must be none either
    findings = WDL.Lint.collect(doc)
    assert findings == [], findings[:5]


def time_cli(argv: list[str]) -> tuple[float, float]:
    """Wall time of one command, and the CPU time (user + system) of the child process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "(Ln " not in proc.stdout, proc.stdout[-2000:]  # a miniwdl lint finding
    if "check" in argv and not argv[0].endswith("miniwdl"):
        assert "no problems" in proc.stderr, proc.stderr[-2000:]
    return elapsed, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)


def warm_up(tmp: Path) -> None:
    WDL.Lint._shellcheck_available = False  # what --suppress CommandShellCheck sets
    (tmp / "warm.wdl").write_text(wdl_chain(10), encoding="utf-8")
    (tmp / "warm.twdsl").write_text(chain(10), encoding="utf-8")
    assert_clean_miniwdl(run_miniwdl(str(tmp / "warm.wdl"), {}))
    assert_clean_twdsl(run_twdsl(str(tmp / "warm.twdsl")))


def _stats(prefix: str, times: list[tuple[float, float]], n: int, unit: str) -> dict[str, Any]:
    wall = [w for w, _ in times]
    cpu = [c for _, c in times]
    mw, mc = statistics.median(wall), statistics.median(cpu)
    return {f"{prefix}_median_s": round(mw, 5), f"{prefix}_ms_per_{unit}": round(mw / n * 1e3, 4),
            f"{prefix}_cpu_median_s": round(mc, 5),
            f"{prefix}_cpu_ms_per_{unit}": round(mc / n * 1e3, 4),
            f"{prefix}_times_s": [round(t, 5) for t in wall],
            f"{prefix}_cpu_times_s": [round(t, 5) for t in cpu]}


def _ratios(rec: dict[str, Any]) -> None:
    """miniwdl's time over twdsl's, by the wall clock and by the CPU clock."""
    rec["miniwdl_over_twdsl"] = round(rec["miniwdl_median_s"] / rec["twdsl_median_s"], 1)
    rec["miniwdl_over_twdsl_cpu"] = round(
        rec["miniwdl_cpu_median_s"] / rec["twdsl_cpu_median_s"], 1)


def measure_n(tmp: Path, n: int, t_reps: int, m_reps: int, cli: bool) -> dict[str, Any]:
    wdl, tw = tmp / f"chain{n}.wdl", tmp / f"chain{n}.twdsl"
    wdl.write_text(wdl_chain(n), encoding="utf-8")
    tw.write_text(chain(n), encoding="utf-8")
    t_times: list[tuple[float, float]] = []
    m_times: list[tuple[float, float]] = []
    loads: list[float] = []
    lints: list[float] = []
    box: list[Any] = []
    split: dict[str, float] = {}  # run_miniwdl's load and lint times, overwritten every run
    for rep in range(max(t_reps, m_reps)):
        order = ("twdsl", "miniwdl") if rep % 2 == 0 else ("miniwdl", "twdsl")
        for who in order:
            if who == "twdsl" and rep < t_reps:
                t_times.append(time_both(lambda p: box.append(run_twdsl(p)), str(tw)))
                assert_clean_twdsl(box.pop())
            elif who == "miniwdl" and rep < m_reps:
                m_times.append(time_both(lambda p: box.append(run_miniwdl(p, split)),
                                         str(wdl)))
                assert_clean_miniwdl(box.pop())
                loads.append(split["load"])
                lints.append(split["lint"])
    rec: dict[str, Any] = {
        "bench": "check_vs_miniwdl", "n": n, "mode": "in_process",
        "wdl_lines": wdl.read_text().count("\n"), "twdsl_lines": tw.read_text().count("\n"),
        "twdsl_reps": t_reps, "miniwdl_reps": m_reps,
        **_stats("twdsl", t_times, n, "task"), **_stats("miniwdl", m_times, n, "call"),
        "miniwdl_load_median_s": round(statistics.median(loads), 4),
        "miniwdl_lint_median_s": round(statistics.median(lints), 4)}
    _ratios(rec)
    emit(rec)
    if cli:
        mw = str(BIN / "miniwdl")
        assert shutil.which(mw), "miniwdl must be installed in this venv"
        c_t: list[tuple[float, float]] = []
        c_m: list[tuple[float, float]] = []
        v_t: list[tuple[float, float]] = []  # start-up alone: `--version` imports and exits
        v_m: list[tuple[float, float]] = []
        for rep in range(m_reps):
            runs = [(c_t, [*TWDSL_CLI, "check", str(tw)]), (v_t, [*TWDSL_CLI, "--version"]),
                    (c_m, [mw, "check", "--suppress", "CommandShellCheck", str(wdl)]),
                    (v_m, [mw, "--version"])]
            for sink, argv in runs if rep % 2 == 0 else runs[::-1]:
                sink.append(time_cli(argv))
        crec: dict[str, Any] = {
            "bench": "check_vs_miniwdl", "n": n, "mode": "cli", "reps": m_reps,
            **_stats("twdsl", c_t, n, "task"), **_stats("miniwdl", c_m, n, "call"),
            **_stats("twdsl_version", v_t, n, "task"),
            **_stats("miniwdl_version", v_m, n, "call")}
        _ratios(crec)
        emit(crec)
        rec["cli"] = crec
    return rec


def main(argv: list[str] | None = None) -> int:
    rev, argv = strip_at(sys.argv[1:] if argv is None else argv)
    if rev is not None:
        return rerun_at(rev, argv, __file__)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: N = 200, 2 repetitions")
    ap.add_argument("--sizes", help="comma-separated N instead of 1000,5000")
    ap.add_argument("--reps", type=int, default=5, help="twdsl repetitions with --sizes")
    ap.add_argument("--miniwdl-reps", help="comma-separated miniwdl repetitions, one per size")
    ap.add_argument("--cli", choices=("first", "all", "none"), default="first",
                    help="time the command lines too: at the first size (default), all, none")
    ap.add_argument("--at", metavar="REV", help="time twdsl as committed at REV (a snapshot)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    environment("check_vs_miniwdl")
    emit({"bench": "environment_miniwdl", "miniwdl": _miniwdl_version()})
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        ns = [int(x) for x in args.sizes.split(",")]
        sizes = tuple((n, args.reps, 3 if n <= 1000 else 1) for n in ns)
    if args.miniwdl_reps:
        reps = [int(x) for x in args.miniwdl_reps.split(",")]
        sizes = tuple((n, t, m) for (n, t, _), m in zip(sizes, reps, strict=True))
    recs = []
    with tempfile.TemporaryDirectory(prefix="twdsl-bench-") as d:
        tmp = Path(d)
        warm_up(tmp)
        for i, (n, t_reps, m_reps) in enumerate(sizes):
            cli = args.cli == "all" or (args.cli == "first" and i == 0)
            recs.append(measure_n(tmp, n, t_reps, m_reps, cli))
    if len(recs) > 1:
        a, b = recs[0], recs[-1]
        emit({"bench": "check_vs_miniwdl_growth", "from_n": a["n"], "to_n": b["n"],
              "twdsl_time_ratio": round(b["twdsl_median_s"] / a["twdsl_median_s"], 2),
              "miniwdl_time_ratio": round(b["miniwdl_median_s"] / a["miniwdl_median_s"], 2)})
    emit({"bench": "end", "loadavg": [round(x, 2) for x in os.getloadavg()],
          "total_s": round(time.perf_counter() - started, 1)})

    note("")
    note(f"{'N':>6}  {'mode':<10} {'clock':<5} {'twdsl s':>9} {'ms/task':>8} {'miniwdl s':>10} "
         f"{'ms/call':>8}  miniwdl/twdsl")
    for r in recs:
        for mode, rr in (("in-process", r), ("cli", r.get("cli"))):
            if rr is None:
                continue
            for clock, k in (("wall", ""), ("cpu", "cpu_")):
                ratio = rr["miniwdl_over_twdsl" + ("_cpu" if k else "")]
                note(f"{r['n']:>6}  {mode:<10} {clock:<5} {rr[f'twdsl_{k}median_s']:>9.4f} "
                     f"{rr[f'twdsl_{k}ms_per_task']:>8.3f} {rr[f'miniwdl_{k}median_s']:>10.3f} "
                     f"{rr[f'miniwdl_{k}ms_per_call']:>8.3f}  {ratio:>8.1f}x")
        note(f"        miniwdl in-process: load {r['miniwdl_load_median_s']:.3f} s + lint "
             f"{r['miniwdl_lint_median_s']:.3f} s")
        if "cli" in r:
            c = r["cli"]
            note(f"        --version alone (wall): twdsl {c['twdsl_version_median_s']:.3f} s, "
                 f"miniwdl {c['miniwdl_version_median_s']:.3f} s")
    note(f"total {time.perf_counter() - started:.1f} s")
    return 0


def _miniwdl_version() -> str:
    from importlib.metadata import version
    return version("miniwdl")


if __name__ == "__main__":
    sys.exit(main())
