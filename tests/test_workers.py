"""`twdsl submit`, `twdsl worker` and `twdsl queue` as a user runs them: real processes on a
real PostgreSQL server (and a SQLite file), workers killed with SIGKILL mid-run and taken over,
pause, resume and cancel from other processes.  Agents append what they did to a log, so the
calls made across processes can be counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from store_helpers import Backend, make_backend, pg_url, postgres, server  # noqa: F401
from twdsl.runtime.store import open_store

AGENTS = '''
import json, os, time

def work(input, call):
    time.sleep(input.get("sleep", 0.01))
    with open(os.environ["AGENT_LOG"], "a") as f:
        f.write(json.dumps({"run": call.run_id, "key": call.context["key"],
                            "pid": os.getpid()}) + "\\n")
    return {"n": input["n"] * 2}
'''

BATCH = '''
workflow Batch {
  version: "1.0.0"
  input {
    n: number
    sleep: number = 0.01
  }
  output {
    total: number = sum(work.result.map(r => r.n))
  }
  foreach i in range(n) {
    parallel: true
    max_concurrency: 4
    task work {
      agent: "Work"
      input: { n: i, sleep: sleep }
    }
  }
}
'''


def total(n: int) -> int:
    return sum(2 * i for i in range(n))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "agents.py").write_text(AGENTS)
    (tmp_path / "twdsl.toml").write_text('[agents.Work]\npython = "agents:work"\n')
    (tmp_path / "batch.twdsl").write_text(BATCH)
    return tmp_path


@pytest.fixture
def pg(project: Path) -> Backend:
    return make_backend("postgres", project)


class Cli:
    def __init__(self, project: Path, backend: Backend) -> None:
        self.project = project
        self.backend = backend
        self.env = dict(os.environ, AGENT_LOG=str(project / "calls.log"),
                        TWDSL_STATE=backend.target)

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=self.project,
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "twdsl.cli", *args], cwd=self.project,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def submit(self, *args: str) -> str:
        r = self("submit", "batch.twdsl", *args)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def calls(self, run_id: str | None = None) -> list[dict[str, Any]]:
        log = self.project / "calls.log"
        if not log.exists():
            return []
        found = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        return [c for c in found if run_id is None or c["run"] == run_id]

    def run(self, run_id: str) -> Any:
        with open_store(self.backend.target) as s:
            return s.get_run(run_id)


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_workers_share_the_queue_and_run_everything_once(project: Path, pg: Backend) -> None:
    cli = Cli(project, pg)
    ids = [cli.submit("-i", f"n={n}") for n in range(1, 7)]
    queued = json.loads(cli("queue", "--format", "json").stdout)
    assert [(q["queue"], q["waiting"], q["running"]) for q in queued] == [("default", 6, 0)]
    workers = [cli.start("worker", "--exit-when-idle", "-c", "2", "--name", f"w{i}",
                         "--poll", "0.1") for i in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        assert "Traceback" not in err
    for n, rid in zip(range(1, 7), ids, strict=True):
        run = cli.run(rid)
        assert (run.status, run.outputs, run.queue, run.resumes) == (
            "completed", {"total": total(n)}, "default", 0)
        assert run.worker in ("w0", "w1")
        keys = [c["key"] for c in cli.calls(rid)]
        assert sorted(keys) == sorted(f"work[{i}]" for i in range(n))  # each once
    shown = json.loads(cli("queue", "--format", "json").stdout)[0]
    assert (shown["waiting"], shown["running"], shown["finished"], shown["completed"]) == (
        0, 0, 6, 6)
    metrics = cli("queue", "--format", "prometheus").stdout
    assert 'twdsl_queue_finished{queue="default"} 6.0' in metrics.splitlines()


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_worker_killed_mid_run_is_taken_over(project: Path, kind: str) -> None:
    backend = make_backend(kind, project)
    cli = Cli(project, backend)
    n = 40
    rid = cli.submit("-i", f"n={n}", "-i", "sleep=0.05")
    first = cli.start("worker", "--name", "first", "--lease", "1.5")
    wait_for(lambda: len(cli.calls(rid)) >= 8)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)
    before = {c["key"] for c in cli.calls(rid)}
    with open_store(backend.target) as s:
        recorded = set(s.completed_results(rid))
        assert s.get_run(rid).status == "running"  # nobody says it died: its lease will
    assert recorded <= before  # a recorded completion was really done
    second = cli.start("worker", "--name", "second", "--lease", "1.5", "--max-runs", "1",
                       "--poll", "0.1")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"took over run {rid} (Batch, queue default, resumed 1x)" in err
    run = cli.run(rid)
    assert (run.status, run.outputs, run.resumes, run.worker) == (
        "completed", {"total": total(n)}, 1, "second")
    after = [c["key"] for c in cli.calls(rid)][len(before):]
    assert not set(after) & recorded  # nothing recorded as completed ran again
    assert before | set(after) == {f"work[{i}]" for i in range(n)}  # and everything ran
    assert len(after) == len(set(after))
    with open_store(backend.target) as s:
        states = s.task_states(rid)
    assert sorted(t.key for t in states) == sorted(f"work[{i}]" for i in range(n))
    assert {t.status for t in states} == {"completed"}
    assert {t.key: t.result for t in states} == {f"work[{i}]": {"n": 2 * i} for i in range(n)}


def test_pause_resume_and_cancel_from_other_processes(project: Path, pg: Backend) -> None:
    cli = Cli(project, pg)
    rid = cli.submit("-i", "n=40", "-i", "sleep=0.4")
    worker = cli.start("worker", "--name", "w", "--poll", "0.1")
    try:
        wait_for(lambda: len(cli.calls(rid)) >= 4)
        with open_store(pg.target) as s:  # as `twdsl runs pause` does, without its start-up
            s.request_control(rid, "pause")
        wait_for(lambda: cli.run(rid).status == "paused")
        done = {c["key"] for c in cli.calls(rid)}
        with open_store(pg.target) as s:
            assert set(s.completed_results(rid)) == done  # in flight finished, recorded
        assert len(done) < 40
        r = cli("runs", "resume", rid)
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == (f"twdsl: run {rid} is back in queue default: a worker "
                                    f"continues it, reusing {len(done)} completed tasks")
        wait_for(lambda: cli.run(rid).status == "completed")
        run = cli.run(rid)
        assert (run.outputs, run.resumes) == ({"total": total(40)}, 1)
        assert sorted(c["key"] for c in cli.calls(rid)) == sorted(
            f"work[{i}]" for i in range(40))  # each exactly once
        # cancel a running one
        other = cli.submit("-i", "n=400", "-i", "sleep=0.2")
        wait_for(lambda: len(cli.calls(other)) >= 2)
        r = cli("runs", "cancel", other)
        assert (r.returncode, r.stdout.strip()) == (0, f"twdsl: asked run {other} to cancel")
        wait_for(lambda: cli.run(other).status == "cancelled")
        assert len(cli.calls(other)) < 400
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    # a waiting run is paused or cancelled at once, no worker needed
    waiting = cli.submit("-i", "n=1")
    r = cli("runs", "pause", waiting)
    assert r.stdout.strip() == f"twdsl: run {waiting} paused (it was pending in queue default)"
    r = cli("runs", "cancel", waiting)
    assert r.stdout.strip() == f"twdsl: run {waiting} cancelled (it was paused in queue default)"
    assert cli.run(waiting).status == "cancelled"
    r = cli("runs", "resume", waiting)
    assert r.returncode == 0 and cli.run(waiting).status == "pending"


def test_a_stopping_worker_hands_its_runs_back(project: Path, pg: Backend) -> None:
    cli = Cli(project, pg)
    rid = cli.submit("-i", "n=40", "-i", "sleep=0.3")
    first = cli.start("worker", "--name", "first", "--poll", "0.1")
    wait_for(lambda: len(cli.calls(rid)) >= 4)
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert f"run {rid} handed back in " in err
    run = cli.run(rid)
    assert (run.status, run.worker) == ("pending", None)
    second = cli.start("worker", "--name", "second", "--max-runs", "1", "--poll", "0.1")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    run = cli.run(rid)
    assert (run.status, run.outputs, run.worker) == ("completed", {"total": total(40)},
                                                     "second")
    assert sorted(c["key"] for c in cli.calls(rid)) == sorted(
        f"work[{i}]" for i in range(40))  # nothing twice: in-flight work finished first


def test_a_run_a_worker_cannot_bind_fails_saying_why(project: Path, pg: Backend) -> None:
    cli = Cli(project, pg)
    rid = cli.submit("-i", "n=2")
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "twdsl.toml").write_text("")
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", "worker", "--name", "bare",
                        "--exit-when-idle"], cwd=elsewhere, env=cli.env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    run = cli.run(rid)
    assert run.status == "failed"
    assert run.error == {
        "kind": "validation",
        "message": f"worker bare cannot run it: no agent is bound for 'Work' in "
                   f"{elsewhere / 'twdsl.toml'}; bind each under [agents.NAME] in twdsl.toml "
                   "(see docs/agents.md)"}
