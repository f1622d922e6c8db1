"""Benchmark: how long the command line takes to start, side by side with peers (issue 12).

Each command runs as a subprocess, wall time, median of ``--reps`` runs after one warm-up run
(which fills the grammar's table cache, as the first command after installing does), the
commands taking turns so that they share the machine's load:

- ``python -c pass``: the interpreter alone, the lower bound of any Python command;
- ``twdsl --help``, ``twdsl --version``, ``twdsl check one.twdsl`` (a one-task file);
- ``twdsl lsp``: from starting the process to its answer to ``initialize``;
- ``ruff check one.py`` (a compiled peer) and ``miniwdl check one.wdl`` (a Python peer), when
  installed (``pip install miniwdl``; ruff is a dev dependency).

Every command runs without ``PYTHONDONTWRITEBYTECODE`` (some sandboxes and CI images set it), so
the warm-up round writes the bytecode cache as an installed package has it; with it set, every
start compiles ~100 modules from source again (about 60 ms more for ``twdsl check``, and
likewise for miniwdl).

Output: one JSON line per command on stdout, a table on stderr.  It measures; it never passes
or fails.

    python bench/startup.py --reps 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE = 'workflow W {\n  version: "1.0.0"\n  task a { agent: "echo" }\n}\n'
ONE_PY = "def f(x):\n    return x + 1\n"
ONE_WDL = ("version 1.0\n\ntask a {\n  command <<< echo hi >>>\n  output { String s = "
           "read_string(stdout()) }\n}\n")
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": None, "rootUri": None, "capabilities": {}}}


#: the environment of every command: bytecode cached, as after installing
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, env=ENV)
    return time.perf_counter() - t0


def _lsp(cwd: Path) -> float:
    body = json.dumps(INIT).encode()
    message = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "lsp"], cwd=cwd,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=ENV)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(message)
    p.stdin.flush()
    header = p.stdout.readline()  # Content-Length of the answer: the server answered
    took = time.perf_counter() - t0
    p.kill()
    p.wait()
    assert header.startswith(b"Content-Length"), header
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="twdsl-startup-"))
    (work / "one.twdsl").write_text(ONE)
    (work / "one.py").write_text(ONE_PY)
    (work / "one.wdl").write_text(ONE_WDL)
    twdsl = shutil.which("twdsl") or f"{sys.executable} -m twdsl.cli"
    commands: dict[str, object] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "twdsl --help": [*twdsl.split(), "--help"],
        "twdsl --version": [*twdsl.split(), "--version"],
        "twdsl check one.twdsl": [*twdsl.split(), "check", "one.twdsl"],
        "twdsl lsp (to initialize)": _lsp,
    }
    if shutil.which("ruff"):
        commands["ruff check one.py"] = ["ruff", "check", "--no-cache", "one.py"]
    if shutil.which("miniwdl"):
        commands["miniwdl check one.wdl"] = ["miniwdl", "check", "one.wdl"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for rep in range(args.reps + 1):
        for name, how in commands.items():
            took = how(work) if callable(how) else _run(how, work)  # type: ignore[arg-type]
            if rep:  # the first round warms caches (the grammar table, the OS file cache)
                times[name].append(took)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    floor = statistics.median(times["python -c pass"])
    print(f"{'command':32} {'median':>9} {'p90':>9} {'- python':>9}", file=sys.stderr)
    for name, xs in times.items():
        med = statistics.median(xs)
        p90 = sorted(xs)[int(0.9 * (len(xs) - 1))]
        print(json.dumps({"bench": "startup", "commit": commit, "command": name,
                          "median_ms": round(med * 1000, 1), "p90_ms": round(p90 * 1000, 1),
                          "over_python_ms": round((med - floor) * 1000, 1),
                          "reps": len(xs), "load": round(os.getloadavg()[0], 2)}))
        print(f"{name:32} {med * 1000:8.1f}ms {p90 * 1000:8.1f}ms {(med - floor) * 1000:8.1f}ms",
              file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
