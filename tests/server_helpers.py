"""Shared set-up of the `twdsl server` tests: a project folder with agents and workflows, a
real server process on a free port, tokens made with the real CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

AGENTS = '''
import asyncio


def work(input, ctx):
    if input.get("fail"):
        raise ZeroDivisionError("the right side cannot divide by zero")
    return {"n": input.get("n", 0) + 1}


async def slow(input, ctx):
    await asyncio.sleep(input.get("seconds", 30))
    return {"slept": input.get("seconds", 30)}
'''

CONFIG = '''
[agents.Work]
python = "agents:work"

[agents.Slow]
python = "agents:slow"
'''

FLOW = '''workflow Flow {
  version: "1.0.0"
  input {
    n: number
    fail: boolean = false
  }
  task prepare { agent: "Work" input: { n: n } }
  parallel {
    task left { agent: "Work" input: { n: prepare.result.n } }
    task right { agent: "Work" input: { n: prepare.result.n, fail: fail } }
  }
  task finish { agent: "Work" input: { n: left.result.n } depends: [right] }
  output { total: any = finish.result }
}
'''

SLOW = '''workflow Slow {
  version: "1.0.0"
  input { seconds: number = 30 }
  task first { agent: "Work" input: { n: 1 } }
  task wait { agent: "Slow" input: { seconds: seconds } }
  task after { agent: "Work" input: { n: 2 } depends: [wait] }
}
'''


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "agents.py").write_text(AGENTS)
    (root / "twdsl.toml").write_text(CONFIG)
    (root / "flow.twdsl").write_text(FLOW)
    (root / "slow.twdsl").write_text(SLOW)
    return root


def cli(project: Path, *args: str, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=project,
                       capture_output=True, text=True, timeout=60, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"twdsl {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def token(project: Path, role: str, name: str | None = None, state: str | None = None) -> str:
    extra = ("--state", state) if state else ()
    return cli(project, "token", "create", "--role", role, "--name", name or role,
               *extra).stdout.strip()


class Server:
    """`twdsl server --port 0` in ``project``, as a subprocess; ``url`` once it answers."""

    def __init__(self, project: Path, *args: str) -> None:
        self.project = project
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TWDSL_STATE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twdsl.cli", "server", "--port", "0", *args],
            cwd=project, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=env)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m is None:
            self.proc.kill()
            rest = self.proc.stderr.read()
            raise AssertionError(f"the server did not start: {line}{rest}")
        self.url = f"http://127.0.0.1:{m.group(1)}"
        self.mode = self.proc.stderr.readline().strip()  # who runs the runs
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the server never became ready")
            time.sleep(0.05)

    def client(self, tok: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def deploy(client: httpx.Client, project: Path, file: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/workflows", json={"source": (project / file).read_text(),
                                            "filename": file, **extra})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def wait_run(client: httpx.Client, run_id: str, statuses: set[str],
             timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return dict(run)
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is {run['status']}, not {statuses}: "
                                 f"{json.dumps(run)[:500]}")
        time.sleep(0.05)


def wait_task(client: httpx.Client, run_id: str, key: str, status: str,
              timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").json()
        if any(t["key"] == key and t["status"] == status for t in run["tasks"]):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"task {key} of run {run_id} never became {status}: {run}")
        time.sleep(0.05)
