"""Requests per second and latency (p50, p95) of `twdsl server`'s submit, list and show, under
a bounded load from a second process on 127.0.0.1, beside a bare ASGI app doing the same
database work.

* ``server``: `twdsl server` as users run it (a subprocess): FastAPI, the token checked on every
  request, the body guard, JSON models, runs executed in-process;
* ``bare``: a raw ASGI callable on the same uvicorn (no framework, no token, no body checks),
  doing the same work per request through the same objects: submit validates the inputs,
  records the run (``create_run``, a durable write) and hands it to the same Runner; list
  reads 50 runs; show reads the run, its tasks, attempts and events.  What ``server`` costs
  beyond ``bare`` is the framework, the authentication and the request checks.

The load (this process, asyncio + httpx): ``--requests`` requests per operation with
``--concurrency`` in flight, after a warm-up, ``--repeat`` times; each round's requests per
second and latency percentiles, and the median round.  The workflow is one task of the
built-in ``echo`` agent, so a run costs what the server pays per run, not an agent's work.

    .venv/bin/python bench/server_load.py [--requests 1000] [--concurrency 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

WORKFLOW = ('workflow Echo {\n  version: "1.0.0"\n  input { n: number }\n'
            '  task say { agent: "echo" input: { n: n } }\n  output { n: any = say.result }\n}\n')

BARE = r'''
"""A bare ASGI app doing the server's database work (bench/server_load.py)."""
import json, sys, time
from pathlib import Path
from twdsl.compiler import compile_source
from twdsl.runtime.agents import AgentRegistry
from twdsl.runtime.inputs import validate_inputs
from twdsl.runtime.store import SQLiteStore
from twdsl.server.runner import Job, Runner

state, source = sys.argv[1], sys.argv[2]
program = compile_source(Path(source).read_text(), "echo.twdsl").program
ir = program.to_json()
store = SQLiteStore(state)
runner = Runner(store, AgentRegistry({}, Path(".")), max_runs=4)
runner.start()


def runs_json(r):
    return {"id": r.id, "workflow": r.workflow, "status": r.status, "created_at": r.created_at,
            "started_at": r.started_at, "finished_at": r.finished_at, "inputs": r.inputs,
            "outputs": r.outputs, "error": r.error}


async def body(receive):
    data = b""
    while True:
        m = await receive()
        data += m.get("body", b"")
        if not m.get("more_body"):
            return data


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    status = 200
    if method == "POST" and path == "/runs":
        given = json.loads(await body(receive))["inputs"]
        inputs = validate_inputs(program, given)
        rid = runner.create(program, inputs, ir=ir, source_path=None)
        runner.submit(Job(rid, program, inputs))
        out = runs_json(store.get_run(rid))
        status = 201
    elif path == "/runs":
        out = {"runs": [runs_json(r) for r in store.list_runs(limit=50)]}
    elif path.startswith("/runs/"):
        r = store.get_run(path[6:])
        out = runs_json(r)
        out["tasks"] = [t.key for t in store.task_states(r.id)]
        out["attempts"] = len(store.attempts(r.id))
        out["events"] = len(store.events(r.id))
    else:
        out, status = {"error": "not found"}, 404
    data = json.dumps(out).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


if __name__ == "__main__":
    import socket
    import uvicorn
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
'''


def start(cmd: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"{cmd} did not start")
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if m:
            url = f"http://127.0.0.1:{m.group(1)}"
            break
    for _ in range(200):
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def load(url: str, method: str, paths: list[str], body: Any, headers: dict[str, str],
               concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=60) as client:
        queue = list(reversed(paths))

        async def worker() -> None:
            while queue:
                path = queue.pop()
                t = time.perf_counter()
                r = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t)
                if r.status_code >= 300:
                    raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:200]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    latencies.sort()
    n = len(latencies)
    return {"rps": n / wall, "p50_ms": latencies[n // 2] * 1000,
            "p95_ms": latencies[min(n - 1, int(n * 0.95))] * 1000,
            "max_ms": latencies[-1] * 1000}


def wait_idle(url: str, headers: dict[str, str], bare: bool) -> None:
    """Let the submitted runs finish before the next measurement."""
    for _ in range(600):
        r = httpx.get(url + ("/runs" if bare else "/api/runs"), headers=headers,
                      params={"status": "pending"} if not bare else None, timeout=30).json()
        runs = r["runs"]
        if not any(x["status"] in ("pending", "running") for x in runs):
            return
        time.sleep(0.2)


def measure(kind: str, url: str, headers: dict[str, str], args: argparse.Namespace,
            ) -> dict[str, Any]:
    bare = kind == "bare"
    submit_path = "/runs" if bare else "/api/workflows/Echo/runs"
    list_path = "/runs" if bare else "/api/runs"
    show_prefix = "/runs/" if bare else "/api/runs/"
    out: dict[str, Any] = {}
    # warm-up, and runs to show
    warm = asyncio.run(load(url, "POST", [submit_path] * 50, {"inputs": {"n": 1}}, headers,
                            args.concurrency))
    del warm
    wait_idle(url, headers, bare)
    ids = [r["id"] for r in httpx.get(url + list_path, headers=headers).json()["runs"]]
    for op in ("submit", "list", "show"):
        rounds = []
        for _ in range(args.repeat):
            if op == "submit":
                res = asyncio.run(load(url, "POST", [submit_path] * args.requests,
                                       {"inputs": {"n": 1}}, headers, args.concurrency))
                wait_idle(url, headers, bare)
            elif op == "list":
                res = asyncio.run(load(url, "GET", [list_path] * args.requests, None, headers,
                                       args.concurrency))
            else:
                paths = [show_prefix + ids[i % len(ids)] for i in range(args.requests)]
                res = asyncio.run(load(url, "GET", paths, None, headers, args.concurrency))
            rounds.append(res)
        mid = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
        out[op] = {**{k: round(v, 2) for k, v in mid.items()},
                   "rounds_rps": [round(r["rps"], 1) for r in rounds]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, Any] = {"requests": args.requests, "concurrency": args.concurrency,
                               "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "echo.twdsl").write_text(WORKFLOW)
        (root / "bare.py").write_text(BARE)
        # the bare app first, on its own state file
        (root / "b").mkdir()
        proc, url = start([sys.executable, "bare.py", str(root / "b" / "state.db"),
                           str(root / "echo.twdsl")], root)
        try:
            results["bare"] = measure("bare", url, {}, args)
        finally:
            stop(proc)
        # the server
        (root / "s").mkdir()
        state = str(root / "s" / "state.db")
        token = subprocess.run([sys.executable, "-m", "twdsl.cli", "token", "create", "--role",
                                "admin", "--state", state], capture_output=True, text=True,
                               cwd=root, check=True).stdout.strip()
        proc, url = start([sys.executable, "-m", "twdsl.cli", "server", "--port", "0",
                           "--state", state, "--max-runs", "4"], root)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            r = httpx.post(url + "/api/workflows", headers=headers,
                           json={"source": WORKFLOW, "filename": "echo.twdsl"})
            assert r.status_code == 201, r.text
            results["server"] = measure("server", url, headers, args)
        finally:
            stop(proc)
    for op in ("submit", "list", "show"):
        results[f"{op}_rps_ratio_server_to_bare"] = round(
            results["server"][op]["rps"] / results["bare"][op]["rps"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
