"""`twdsl server` on a PostgreSQL state store, as a scaled-out deployment runs it: real server
processes and real `twdsl worker`s on a real PostgreSQL server (tests/pg_helpers.py).  Runs
accepted by the API or fired by a schedule wait in the store's queue and a worker runs them;
the API cancels, pauses, resumes and retries them whichever process runs them; tokens and
schedules live in the database; two servers never fire one occurrence twice; a server started
with --execute is one more worker of its queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from pg_helpers import pg_url, postgres  # noqa: F401 - fixtures
from server_helpers import Server, cli, deploy, make_project, token, wait_run, wait_task

from twdsl.server.auth import sha256


class Worker:
    """`twdsl worker` on the store, in the project (its twdsl.toml binds the agents)."""

    def __init__(self, project: Path, url: str, *args: str) -> None:
        env = dict(os.environ)
        env.pop("TWDSL_STATE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twdsl.cli", "worker", "--state", url, "--poll", "0.1",
             *args], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env)

    def wait(self, timeout: float = 60) -> str:
        """Until it exits by itself (--exit-when-idle); its log."""
        assert self.proc.wait(timeout) == 0
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

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


def _tasks(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["status"] for t in run["tasks"]}


def _events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/api/runs/{run_id}/events").json()["events"])


def test_a_queued_server_leaves_runs_to_workers_and_steers_them(tmp_path: Path,
                                                                pg_url: str) -> None:
    project = make_project(tmp_path / "p")
    admin = token(project, "admin", state=pg_url)
    operator = token(project, "operator", state=pg_url)
    server = Server(project, "--state", pg_url, "--no-scheduler")
    worker: Worker | None = None
    try:
        assert server.mode == ("twdsl server: runs wait in queue default of the state store "
                               "for `twdsl worker`s (this server runs none)")
        with server.client(admin) as a:
            deploy(a, project, "flow.twdsl")
            deploy(a, project, "slow.twdsl")
        with server.client(operator) as op:
            assert op.get("/readyz").json()["checks"]["runner"] is True
            r = op.post("/api/workflows/Flow/runs", json={"inputs": {"n": 1}})
            assert r.status_code == 201, r.text
            first = r.json()
            assert (first["status"], first["queue"], first["worker"]) == ("pending", "default",
                                                                         None)
            time.sleep(0.5)  # nobody runs it: it waits in the queue
            q = op.get("/api/queue").json()
            assert q["server"] == {"id": q["server"]["id"], "executes": False,
                                   "queue": "default", "max_runs": 0, "running": 0,
                                   "waiting": 0}
            assert [(x["queue"], x["waiting"], x["running"]) for x in q["queues"]] == [
                ("default", 1, 0)]
            # a waiting run is held in its queue, and released by resume
            r = op.post(f"/api/runs/{first['id']}/pause")
            assert r.status_code == 202 and r.json() == {"run": first["id"], "status": "paused"}
            assert op.get(f"/api/runs/{first['id']}").json()["status"] == "paused"
            r = op.post(f"/api/runs/{first['id']}/resume")
            assert r.json() == {"run": first["id"], "resumed": True, "reused": 0,
                                "queue": "default"}

            worker = Worker(project, pg_url, "--name", "w1")
            done = wait_run(op, first["id"], {"completed"})
            assert done["outputs"] == {"total": {"n": 4}} and done["worker"] == "w1"
            assert _tasks(done) == {"prepare": "completed", "left": "completed",
                                    "right": "completed", "finish": "completed"}
            events = _events(op, first["id"])
            assert events[0]["type"] == "workflow.started"
            assert events[-1]["type"] == "workflow.completed"

            # live events of a run the worker executes
            live = op.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0.3}})
            seen: list[str] = []
            with op.stream("GET", f"/api/runs/{live.json()['id']}/events",
                           headers={"Accept": "text/event-stream"}) as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        seen.append(line[7:])
                        if line == "event: end":
                            break
            assert "workflow.started" in seen and "task.started" in seen
            assert seen[-3:] == ["workflow.completed", "run", "end"]

            # pause a running run from the API: its worker pauses it; resume puts it back
            # in the queue and the worker continues it, reusing what completed
            slow = op.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0.5}})
            slow_id = slow.json()["id"]
            wait_task(op, slow_id, "wait", "running")
            r = op.post(f"/api/runs/{slow_id}/pause")
            assert r.status_code == 202 and r.json() == {"run": slow_id, "requested": "pause"}
            paused = wait_run(op, slow_id, {"paused"})
            assert _tasks(paused)["wait"] == "completed"  # the attempt in flight finished
            r = op.post(f"/api/runs/{slow_id}/resume")
            assert r.json() == {"run": slow_id, "resumed": True, "reused": 2,
                                "queue": "default"}
            resumed = wait_run(op, slow_id, {"completed"})
            assert resumed["resumes"] == 1 and resumed["worker"] == "w1"
            assert _tasks(resumed) == {"first": "completed", "wait": "completed",
                                       "after": "completed"}

            # the worker (one run at a time) is busy: a run waits, and is cancelled in
            # place; the busy one is cancelled through its worker
            busy = op.post("/api/workflows/Slow/runs", json={}).json()["id"]
            wait_task(op, busy, "wait", "running")
            waiting = op.post("/api/workflows/Flow/runs", json={"inputs": {"n": 2}}).json()
            r = op.post(f"/api/runs/{waiting['id']}/cancel")
            assert r.json() == {"run": waiting["id"], "status": "cancelled"}
            gone = op.get(f"/api/runs/{waiting['id']}").json()
            assert (gone["status"], gone["started_at"], gone["tasks"]) == ("cancelled", None,
                                                                           [])
            r = op.post(f"/api/runs/{busy}/cancel")
            assert r.status_code == 202 and r.json() == {"run": busy, "requested": "cancel"}
            cancelled = wait_run(op, busy, {"cancelled"}, timeout=10)
            assert _tasks(cancelled) == {"first": "completed", "wait": "cancelled"}
            assert op.post(f"/api/runs/{busy}/cancel").status_code == 409

            # a failed run retried failed-only: the worker reuses what completed
            failed = op.post("/api/workflows/Flow/runs",
                             json={"inputs": {"n": 1, "fail": True}}).json()["id"]
            run = wait_run(op, failed, {"failed"})
            assert run["error"]["details"]["traceback"].startswith("Traceback")
            r = op.post(f"/api/runs/{failed}/retry", json={"failed_only": True})
            assert r.status_code == 201, r.text
            retry = r.json()
            assert (retry["parent_id"], retry["queue"]) == (failed, "default")
            again = wait_run(op, retry["id"], {"failed"})
            assert again["resumes"] == 0
            reused = {e["key"] for e in _events(op, retry["id"]) if e["type"] == "task.reused"}
            assert reused == {"prepare", "left"}
            started = [e["key"] for e in _events(op, retry["id"]) if e["type"] == "task.started"]
            assert started == ["right"]
        # the command line reads the same runs in the same database
        listed = json.loads(cli(project, "runs", "list", "--state", pg_url, "--format",
                                "json", "--limit", "100").stdout)
        assert {r["id"]: r["status"] for r in listed}[first["id"]] == "completed"
        assert len(listed) == 7
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def test_tokens_and_schedules_live_in_postgres(tmp_path: Path, pg_url: str) -> None:
    project = make_project(tmp_path / "p")
    env = {**os.environ, "TWDSL_STATE": pg_url}
    text = cli(project, "token", "create", "--role", "admin", "--name", "ada",
               env=env).stdout.strip()
    tid = text.split("_")[1]
    listed = json.loads(cli(project, "token", "list", "--format", "json", env=env).stdout)
    assert [(t["id"], t["name"], t["role"]) for t in listed] == [(tid, "ada", "admin")]
    with psycopg.connect(pg_url) as conn:  # kept hashed, in the store's database
        rows = conn.execute("SELECT id, secret_sha256 FROM server_tokens").fetchall()
        assert rows == [(tid, sha256(text.split("_", 2)[2]))]
        assert conn.execute("SELECT version FROM server_schema").fetchall() == [(1,)]
    nightly = (project / "flow.twdsl").read_text().replace(
        'version: "1.0.0"', 'version: "1.0.0"\n  schedule: "0 3 * * *"').replace(
        "workflow Flow", "workflow Nightly")
    (project / "nightly.twdsl").write_text(nightly)
    server = Server(project, "--state", pg_url)
    try:
        with server.client(text) as c:
            deploy(c, project, "nightly.twdsl", inputs={"n": 1})
            rows = json.loads(cli(project, "schedules", "--format", "json", env=env).stdout)
            assert [(s["workflow"], s["schedule"], s["paused"]) for s in rows] == [
                ("Nightly", "0 3 * * *", False)]
            r = cli(project, "schedules", "pause", "Nightly", env=env)
            assert r.stdout.strip() == "twdsl: schedule of Nightly paused"
            assert c.get("/api/schedules").json()[0]["paused"] is True
            assert cli(project, "schedules", "fires", "Nightly", env=env).stdout == "no fires\n"
            assert cli(project, "token", "revoke", tid, env=env).returncode == 0
            assert c.get("/api/runs").status_code == 401
    finally:
        server.stop()


def _every_second(project: Path, name: str) -> None:
    (project / f"{name.lower()}.twdsl").write_text(
        f'workflow {name} {{\n  version: "1.0.0"\n  schedule: "* * * * * *"\n'
        '  input { n: number }\n  task tick { agent: "Work" input: { n: n } }\n}\n')


def test_two_servers_on_one_postgres_never_fire_an_occurrence_twice(tmp_path: Path,
                                                                     pg_url: str) -> None:
    project = make_project(tmp_path / "p")
    admin = token(project, "admin", state=pg_url)
    _every_second(project, "Twice")
    first = Server(project, "--state", pg_url)
    second = Server(project, "--state", pg_url)
    try:
        with first.client(admin) as c:
            deploy(c, project, "twice.twdsl", inputs={"n": 1})
            time.sleep(5)
            c.patch("/api/schedules/Twice", json={"paused": True})
            time.sleep(1.2)
            fires = c.get("/api/schedules/Twice/fires", params={"limit": 100}).json()["fires"]
            runs = c.get("/api/runs", params={"workflow": "Twice", "limit": 100}).json()["runs"]
            assert len(fires) >= 4
            occurrences = [f["scheduled_at"] for f in fires]
            assert len(occurrences) == len(set(occurrences))
            assert all(f["run_id"] is not None for f in fires)
            assert sorted(r["id"] for r in runs) == sorted(f["run_id"] for f in fires)
            assert {r["status"] for r in runs} == {"pending"}  # queued: no worker yet
            # a worker runs them; each starts with its fire, recorded before it was queued
            Worker(project, pg_url, "--exit-when-idle", "-c", "4").wait()
            for f in fires:
                run = c.get(f"/api/runs/{f['run_id']}").json()
                assert (run["status"], run["scheduled_at"]) == ("completed", f["scheduled_at"])
                events = _events(c, f["run_id"])
                assert [e["type"] for e in events[:2]] == ["schedule.fired", "workflow.started"]
                assert events[0]["data"]["scheduled_at"] == f["scheduled_at"]
    finally:
        first.stop()
        second.stop()


def test_a_server_with_execute_is_one_more_worker(tmp_path: Path, pg_url: str) -> None:
    project = make_project(tmp_path / "p")
    admin = token(project, "admin", state=pg_url)
    server = Server(project, "--state", pg_url, "--execute", "--queue", "fast",
                    "--max-runs", "2", "--no-scheduler")
    try:
        assert server.mode == ("twdsl server: runs wait in queue fast of the state store; "
                               "this server runs up to 2 of them, beside any `twdsl worker`")
        with server.client(admin) as c:
            deploy(c, project, "flow.twdsl")
            deploy(c, project, "slow.twdsl")
            run_id = c.post("/api/workflows/Flow/runs", json={"inputs": {"n": 1}}).json()["id"]
            run = wait_run(c, run_id, {"completed"})
            assert run["queue"] == "fast" and run["worker"].startswith("server:")
            assert run["outputs"] == {"total": {"n": 4}}
            slow = c.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 1.0}})
            slow_id = slow.json()["id"]
            wait_task(c, slow_id, "wait", "running")
    finally:
        server.stop()
    # a stopping server hands its runs back to their queue, as a stopping worker does
    shown = json.loads(cli(project, "runs", "show", slow_id, "--state", pg_url, "--format",
                           "json").stdout)
    assert (shown["status"], shown["queue"]) == ("pending", "fast")
    log = Worker(project, pg_url, "--queue", "fast", "--exit-when-idle").wait()
    assert f"took over run {slow_id}" in log or f"claimed run {slow_id}" in log
    shown = json.loads(cli(project, "runs", "show", slow_id, "--state", pg_url, "--format",
                           "json").stdout)
    assert shown["status"] == "completed" and shown["resumes"] == 1
    assert {t["key"]: t["status"] for t in shown["tasks"]} == {
        "first": "completed", "wait": "completed", "after": "completed"}


def test_store_mistakes_are_usage_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    nowhere = f"postgresql://nobody@/twdsl?host={tmp_path / 'no-socket'}"
    for args in (("server", "--port", "0", "--state", nowhere),
                 ("token", "list", "--state", nowhere)):
        r = cli(project, *args, check=False)
        assert r.returncode == 2, r.stderr
        assert f"cannot use the state store {nowhere}: connection" in r.stderr
        assert "Traceback" not in r.stderr
    r = cli(project, "server", "--queue", "gpu", check=False)
    assert r.returncode == 2
    assert ("--queue is for queued runs: on a SQLite store add --no-execute" in r.stderr)
