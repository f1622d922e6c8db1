"""The long durability crash campaign (issue 16): ``--trials`` trials of `twdsl run` killed
with SIGKILL at a random moment, then again during its resume and its second resume, on a
SQLite file and on a PostgreSQL database (a throwaway server, tests/pg_helpers.py), counting
items lost, recorded-complete tasks redone and wrong outputs.  The trial itself is
tests/test_crash_campaign.py's ``run_trial`` (CI runs a few of them).

    python bench/crash_campaign.py [--trials 100] [--backends sqlite,postgres] [--seed 0]

Prints one JSON line per back end; every count but ``trials`` and ``kills*`` must be 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_crash_campaign import Trial, run_trial, summary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for kind in a.backends.split(","):
        server = None
        if kind == "postgres":
            import pg_helpers

            server = pg_helpers.start()
        results: list[Trial] = []
        t0 = time.perf_counter()
        for i in range(a.trials):
            with tempfile.TemporaryDirectory() as d:
                folder = Path(d)
                target = (server.new_database() if server is not None
                          else str(folder / ".twdsl" / "state.db"))
                t = run_trial(folder, target, a.seed * 100_000 + i)
                results.append(t)
                if not t.ok():
                    print(json.dumps({"trial": i, "backend": kind, "problems": t.problems}),
                          file=sys.stderr, flush=True)
        line = {"bench": "crash_campaign", "backend": kind, **summary(results),
                "seconds": round(time.perf_counter() - t0, 1)}
        print(json.dumps(line), flush=True)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
