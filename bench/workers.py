"""Workers on one PostgreSQL (issue 13): runs per second and tasks per second with 1, 2 and 4
`twdsl worker` processes sharing a throwaway local PostgreSQL server (tests/pg_helpers.py),
and the time a run waits to be taken over after its worker is killed.

* ``small``: ``--runs`` small runs (a two-task chain of the built-in ``echo`` agent) queued
  at once, drained by N workers (each ``--concurrency 4``); the time from the first claim
  to the last run's end, as the store recorded them.
* ``foreach``: one run of a ``--tasks``-item parallel foreach of ``echo``: one worker runs
  a run, so more workers do not make it faster (the figure is there to say so).
* ``takeover``: a run of slow tasks on worker A (``--lease`` seconds); A is killed with
  SIGKILL; worker B, already polling, takes it over once A's lease runs out: the seconds from
  the kill to B's claim (bounded by the lease plus B's poll interval).

    python bench/workers.py [--runs 1000] [--tasks 10000] [--workers 1,2,4] [--lease 2]

Each worker is a real process (`python -m twdsl.cli worker --exit-when-idle`); the machine's
cores are shared by the workers, the server and this script.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import pg_helpers  # noqa: E402

from twdsl.compiler import compile_source  # noqa: E402
from twdsl.runtime.store import new_run_id, open_store  # noqa: E402

SMALL = ('workflow Small {\n  version: "1.0.0"\n  input { n: number }\n'
         '  output { out: number = b.result.n }\n'
         '  task a { agent: "echo" input: { n: n } }\n'
         '  task b { agent: "echo" input: { n: a.result.n + 1 } }\n}\n')
SLOW = ('workflow Slow {\n  version: "1.0.0"\n  input { n: number }\n'
        '  foreach i in range(n) {\n    parallel: true\n    max_concurrency: 2\n'
        '    task t { agent: "sleep" input: { seconds: 0.2 } }\n  }\n}\n')


def foreach(n: int) -> str:
    return ('workflow Wide {\n  version: "1.0.0"\n  foreach i in range(%d) {\n    parallel: true\n'
            '    max_concurrency: 64\n    task t { agent: "echo" input: { i: i } }\n  }\n}\n' % n)


def submit(url: str, text: str, count: int, inputs: dict[str, Any],
           numbered: bool = False) -> list[str]:
    """Queue ``count`` runs (with ``numbered``, input n is the run's number)."""
    program = compile_source(text, "bench.twdsl").program
    assert program is not None
    ir = program.to_json()
    ids = []
    with open_store(url) as s:
        for i in range(count):
            rid = new_run_id(s.clock()) + f"-{i:05d}"
            s.create_run(rid, program.workflow, version=program.version, ir=ir,
                         inputs=dict(inputs, **({"n": i} if numbered else {})),
                         status="pending", queue="default")
            ids.append(rid)
    return ids


def workers(url: str, n: int, folder: Path, *extra: str) -> list[subprocess.Popen[str]]:
    env = dict(os.environ, TWDSL_STATE=url)
    return [subprocess.Popen([sys.executable, "-m", "twdsl.cli", "worker", "--poll", "0.05",
                              "--name", f"w{i}", *extra], cwd=folder, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for i in range(n)]


def span(url: str, ids: list[str]) -> tuple[float, int]:
    with open_store(url) as s:
        runs = [s.get_run(rid) for rid in ids]
    assert all(r is not None and r.status == "completed" for r in runs), [
        (r.id, r.status, r.error) for r in runs if r is not None and r.status != "completed"]
    start = min(r.started_at for r in runs if r is not None and r.started_at is not None)
    end = max(r.finished_at for r in runs if r is not None and r.finished_at is not None)
    return end - start, len(runs)


def drain(server: Any, folder: Path, n: int, text: str, count: int, inputs: dict[str, Any],
          tasks_per_run: int, concurrency: int) -> dict[str, Any]:
    url = server.new_database()
    ids = submit(url, text, count, inputs, numbered="n" in inputs)
    procs = workers(url, n, folder, "--exit-when-idle", "--concurrency", str(concurrency))
    for p in procs:
        _, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err
    seconds, runs = span(url, ids)
    return {"workers": n, "runs": runs, "tasks": runs * tasks_per_run,
            "seconds": round(seconds, 3), "runs_per_second": round(runs / seconds, 1),
            "tasks_per_second": round(runs * tasks_per_run / seconds, 1)}


def takeover(server: Any, folder: Path, lease: float) -> dict[str, Any]:
    url = server.new_database()
    (rid,) = submit(url, SLOW, 1, {"n": 200})
    a = workers(url, 1, folder, "--lease", str(lease))[0]
    with open_store(url) as s:
        while (run := s.get_run(rid)) is None or run.started_at is None:
            time.sleep(0.02)
    b = workers(url, 1, folder, "--lease", str(lease), "--max-runs", "1")[0]
    time.sleep(lease / 2)
    a.send_signal(signal.SIGKILL)
    killed = time.time()
    a.wait()
    with open_store(url) as s:
        deadline = time.time() + 120
        while (run := s.get_run(rid)) is None or run.resumes == 0:
            if time.time() > deadline:
                raise AssertionError(f"no takeover: {run}")
            time.sleep(0.01)
        taken = time.time()
        s.request_control(rid, "cancel")
    b.communicate(timeout=120)
    return {"bench": "worker_takeover", "lease": lease,
            "seconds_from_kill_to_takeover": round(taken - killed, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--lease", type=float, default=2.0)
    a = ap.parse_args()
    server = pg_helpers.start()
    folder = Path(tempfile.mkdtemp())
    try:
        for n in map(int, a.workers.split(",")):
            line = drain(server, folder, n, SMALL, a.runs, {"n": 0}, 2, 4)
            print(json.dumps({"bench": "workers_small_runs", **line}), flush=True)
        for n in map(int, a.workers.split(",")):
            line = drain(server, folder, n, foreach(a.tasks), 1, {}, a.tasks, 1)
            print(json.dumps({"bench": "workers_one_foreach", **line}), flush=True)
        for lease in (a.lease, a.lease * 2.5):
            print(json.dumps(takeover(server, folder, lease)), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
