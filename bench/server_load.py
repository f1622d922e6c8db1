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

The load comes from a second process: wrk (Debian's ``wrk``, one thread, ``--concurrency``
connections, ``--seconds`` per round, a Lua script for the bodies, the run ids and the p95),
or without it this script's own asyncio + httpx client (``--requests`` per round; a Python
client is slower than the servers, so its figures are the client's).  Each operation runs
``--repeat`` rounds after a warm-up; the median round is kept.  ``floor`` is a request that
does nothing (``/healthz``): what the harness itself allows.  The
workflow is one task of the built-in ``echo`` agent, so a run costs what the server pays per
run, not an agent's work.

    .venv/bin/python bench/server_load.py [--seconds 8] [--concurrency 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
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
    if path == "/healthz":
        out = {"status": "ok"}
    elif method == "POST" and path == "/runs":
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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # NODELAY
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


WRK_DONE = r"""
done = function(summary, latency, requests)
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "p50_us": %d, ' ..
    '"p95_us": %d, "max_us": %d, "errors": %d, "non2xx": %d}\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(95), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status))
end
"""


def wrk_load(url: str, method: str, paths: list[str], body: Any, headers: dict[str, str],
             args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    lines.append("local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}")
    lines.append("local i = 0")
    lines.append("request = function() i = i + 1; "
                 "return wrk.format(nil, paths[(i % #paths) + 1]) end")
    script = tmp / "load.lua"
    script.write_text("\n".join(lines) + "\n" + WRK_DONE)
    r = subprocess.run(["wrk", "-t1", f"-c{args.concurrency}", f"-d{args.seconds}s",
                        "--timeout", "30s", "-s", str(script), url], capture_output=True,
                       text=True, check=True)
    line = next(x for x in r.stdout.splitlines() if x.startswith("WRK "))
    res = json.loads(line[4:])
    if res["errors"] or res["non2xx"]:
        raise SystemExit(f"{method} {paths[0]}: {res} {r.stdout}")
    return {"rps": res["requests"] / (res["duration_us"] / 1e6), "p50_ms": res["p50_us"] / 1000,
            "p95_ms": res["p95_us"] / 1000, "max_ms": res["max_us"] / 1000,
            "requests": res["requests"]}


def wait_idle(url: str, headers: dict[str, str], bare: bool) -> None:
    """Let the submitted runs finish before the next measurement."""
    for _ in range(600):
        r = httpx.get(url + ("/runs" if bare else "/api/runs"), headers=headers,
                      params={"status": "pending"} if not bare else None, timeout=30).json()
        runs = r["runs"]
        if not any(x["status"] in ("pending", "running") for x in runs):
            return
        time.sleep(0.2)


def run_load(url: str, method: str, paths: list[str], body: Any, headers: dict[str, str],
             args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    if args.client == "wrk":
        return wrk_load(url, method, paths, body, headers, args, tmp)
    return asyncio.run(load(url, method, paths * (args.requests // len(paths) + 1)
                            [: args.requests], body, headers, args.concurrency))


def measure(kind: str, url: str, headers: dict[str, str], args: argparse.Namespace,
            tmp: Path) -> dict[str, Any]:
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
    floor = "/healthz"
    for op in ("floor", "submit", "list", "show"):
        rounds = []
        for _ in range(args.repeat):
            if op == "submit":
                res = run_load(url, "POST", [submit_path], {"inputs": {"n": 1}}, headers, args,
                               tmp)
                wait_idle(url, headers, bare)
            elif op == "list":
                res = run_load(url, "GET", [list_path], None, headers, args, tmp)
            elif op == "show":
                res = run_load(url, "GET", [show_prefix + i for i in ids], None, headers, args,
                               tmp)
            else:
                res = run_load(url, "GET", [floor], None, {}, args, tmp)
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
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--client", choices=["wrk", "python"],
                    default="wrk" if shutil.which("wrk") else "python")
    args = ap.parse_args()
    results: dict[str, Any] = {"client": args.client, "concurrency": args.concurrency,
                               "repeat": args.repeat,
                               **({"seconds": args.seconds} if args.client == "wrk"
                                  else {"requests": args.requests})}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "echo.twdsl").write_text(WORKFLOW)
        (root / "bare.py").write_text(BARE)
        # the bare app first, on its own state file
        (root / "b").mkdir()
        proc, url = start([sys.executable, "bare.py", str(root / "b" / "state.db"),
                           str(root / "echo.twdsl")], root)
        try:
            results["bare"] = measure("bare", url, {}, args, root)
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
            results["server"] = measure("server", url, headers, args, root)
        finally:
            stop(proc)
    results["load_average"] = round(os.getloadavg()[0], 2)
    for op in ("floor", "submit", "list", "show"):
        results[f"{op}_rps_ratio_server_to_bare"] = round(
            results["server"][op]["rps"] / results["bare"][op]["rps"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
