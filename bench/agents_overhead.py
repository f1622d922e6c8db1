"""Benchmark: what calling a task's agent costs, per agent kind, against its lower bound.

Each agent kind is timed beside the cheapest way to do the same call by hand, in the same
process and the same repetition (the machines are shared: ratios and medians, not single
times):

- ``python-async``: an ``async def`` agent through the registry (breaker included) vs
  awaiting the same function directly; ``builtin-echo`` beside them;
- ``python-sync``: a plain function through the registry (a daemon thread per call) vs
  ``asyncio.to_thread`` (the default executor's pooled threads);
- ``command``: ``python -c 'print(1)'`` as a command agent (new session, stdin, env, stderr
  tail, JSON result) vs ``asyncio.create_subprocess_exec`` + ``communicate`` of the same argv;
- ``http``: an HTTP agent answering 200 vs a raw ``httpx.AsyncClient.post`` to the same
  server (stdlib ThreadingHTTPServer on 127.0.0.1).

Calls run one after another (the per-call cost, not throughput).  This measures; it never
passes or fails.  Output: one JSON line per (kind, what) with the median microseconds per
call over the repetitions, and the ratio to the lower bound.

    python bench/agents_overhead.py            # ~30 s
    python bench/agents_overhead.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from twdsl.runtime.agents import AgentCall, AgentRegistry

HERE = Path(__file__).resolve().parent


async def _afunc(input: dict[str, Any], ctx: Any) -> Any:
    return input


def _sfunc(input: dict[str, Any], ctx: Any) -> Any:
    return input


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps({"result": json.loads(raw)["input"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _call(i: int) -> AgentCall:
    return AgentCall(agent="A", task="t", node_id="n", run_id="r", workflow="w", attempt=1,
                     input={"i": i}, context={}, timeout=None)


async def _time(n: int, fn: Callable[[AgentCall], Awaitable[Any]]) -> float:
    calls = [_call(i) for i in range(n)]
    start = time.perf_counter()
    for c in calls:
        await fn(c)
    return (time.perf_counter() - start) / n * 1e6


async def main(reps: int, scale: float) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    sys.modules["bench_agents_mod"] = sys.modules[__name__]
    reg = AgentRegistry({
        "PyAsync": {"python": "bench_agents_mod:_afunc"},
        "PySync": {"python": "bench_agents_mod:_sfunc"},
        "Cmd": {"command": [sys.executable, "-c", "print(1)"]},
        "Http": {"url": url},
    }, HERE)
    raw_client = httpx.AsyncClient()

    async def raw_async(c: AgentCall) -> Any:
        return await _afunc(c.input, c)

    async def raw_thread(c: AgentCall) -> Any:
        return await asyncio.to_thread(_sfunc, c.input, c)

    async def raw_command(c: AgentCall) -> Any:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print(1)", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate(json.dumps(c.input).encode())
        return json.loads(out)

    async def raw_http(c: AgentCall) -> Any:
        r = await raw_client.post(f"{url}/execute", json={"input": c.input})
        return r.json()["result"]

    kinds: list[tuple[str, int, list[tuple[str, Callable[[AgentCall], Awaitable[Any]]]]]] = [
        ("python-async", int(20000 * scale), [("raw", raw_async), ("agent", reg.get("PyAsync")),
                                              ("builtin-echo", reg.get("echo"))]),
        ("python-sync", int(2000 * scale), [("raw", raw_thread), ("agent", reg.get("PySync"))]),
        ("command", max(3, int(30 * scale)), [("raw", raw_command), ("agent", reg.get("Cmd"))]),
        ("http", int(500 * scale), [("raw", raw_http), ("agent", reg.get("Http"))]),
    ]
    for kind, n, variants in kinds:
        for _, fn in variants:  # warm up: imports, pools, connections
            await _time(max(1, n // 20), fn)
        times: dict[str, list[float]] = {name: [] for name, _ in variants}
        for rep in range(reps):
            order = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for name, fn in order:
                times[name].append(await _time(n, fn))
        base = statistics.median(times["raw"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(json.dumps({"bench": "agents_overhead", "kind": kind, "what": name,
                              "calls": n, "reps": reps, "us_per_call": round(med, 2),
                              "ratio_to_raw": round(med / base, 2),
                              "overhead_us": round(med - base, 2)}), flush=True)
    await raw_client.aclose()
    await reg.aclose()
    server.shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a smoke run: few calls, 2 reps")
    args = ap.parse_args()
    asyncio.run(main(2 if args.quick else args.reps, 0.1 if args.quick else 1.0))
