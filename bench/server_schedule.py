"""Schedule precision of `twdsl server`: for ``--fires`` real fires of an every-second
schedule (``* * * * * *``), the delay from the scheduled time to the fire (the run recorded)
and to the run's start, in milliseconds: median, p95, max.

    .venv/bin/python bench/server_schedule.py [--fires 100] [--postgres]

With ``--postgres`` the state store is a throwaway PostgreSQL server (tests/pg_helpers.py) and
the server runs with ``--execute``: each fire queues its run, and the server's own worker
claims it from the queue (the run's start delay then counts the claim, polled every 0.25 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WORKFLOW = ('workflow Tick {\n  version: "1.0.0"\n  schedule: "* * * * * *"\n'
            '  task say { agent: "echo" input: { at: current_time } }\n}\n')


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fires", type=int, default=100)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    pg = None
    extra: list[str] = []
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import pg_helpers

        pg = pg_helpers.start()
        extra = ["--execute"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        state = pg.new_database() if pg is not None else str(root / "state.db")
        token = subprocess.run([sys.executable, "-m", "twdsl.cli", "token", "create", "--role",
                                "admin", "--state", state], capture_output=True, text=True,
                               check=True, cwd=root).stdout.strip()
        proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "server", "--port", "0",
                                 "--state", state, *extra], cwd=root, stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stderr is not None
        m = re.search(r"http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
        assert m is not None
        url = f"http://127.0.0.1:{m.group(1)}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            for _ in range(200):
                try:
                    httpx.get(url + "/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            r = httpx.post(url + "/api/workflows", headers=headers,
                           json={"source": WORKFLOW, "filename": "tick.twdsl"})
            assert r.status_code == 201, r.text
            while True:
                fires = httpx.get(url + "/api/schedules/Tick/fires", headers=headers,
                                  params={"limit": args.fires + 5}).json()["fires"]
                if len(fires) >= args.fires:
                    break
                time.sleep(1)
            httpx.patch(url + "/api/schedules/Tick", headers=headers, json={"paused": True})
            fires = sorted(fires, key=lambda f: f["scheduled_at"])[: args.fires]
            fire_ms = [f["delay"] * 1000 for f in fires]
            start_ms = []
            for f in fires:
                run = httpx.get(url + f"/api/runs/{f['run_id']}", headers=headers).json()
                start_ms.append((run["started_at"] - f["scheduled_at"]) * 1000)
            times = [f["scheduled_at"] for f in fires]
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    if pg is not None:
        pg.stop()
    out = {
        "store": "postgresql" if pg is not None else "sqlite",
        "fires": len(fires), "missed_occurrences": int(sum(g - 1 for g in gaps)),
        "fire_delay_ms": {"median": round(statistics.median(fire_ms), 2),
                          "p95": round(pct(fire_ms, 0.95), 2), "max": round(max(fire_ms), 2),
                          "min": round(min(fire_ms), 2)},
        "run_start_delay_ms": {"median": round(statistics.median(start_ms), 2),
                               "p95": round(pct(start_ms, 0.95), 2),
                               "max": round(max(start_ms), 2)},
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
