"""The state store as the command line uses it, with real processes and files: a run paused
twice keeps every result and its start time; tracebacks of handled agent failures are kept
and shown; every command finds the same store the same way; a damaged store is reported,
naming the run, and the rest stays usable."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from twdsl.runtime.store import SQLiteStore

AGENTS = '''
import json, os, time

def work(input, call):
    time.sleep(input.get("sleep", 0.01))
    with open(os.environ["AGENT_LOG"], "a") as f:
        f.write(json.dumps({"key": call.context["key"]}) + "\\n")
    return {"n": input["n"] * 2}

def flaky(input, call):
    if call.attempt == 1:
        raise RuntimeError("flaky the first time")
    return {"ok": call.attempt}

def broken(input, call):
    return helper(input)

def helper(input):
    raise ValueError("no good: " + str(input["n"]))
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

HANDLED = '''
workflow Handled {
  version: "1.0.0"
  output {
    ok: number = again.result.ok
  }
  task again {
    agent: "Flaky"
    retry: { attempts: 2, delay: 10ms }
  }
  task fails {
    agent: "Broken"
    input: { n: 7 }
    on_error: continue
  }
}
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "agents.py").write_text(AGENTS)
    (tmp_path / "twdsl.toml").write_text(
        '[agents.Work]\npython = "agents:work"\n\n[agents.Flaky]\npython = "agents:flaky"\n\n'
        '[agents.Broken]\npython = "agents:broken"\n')
    (tmp_path / "batch.twdsl").write_text(BATCH)
    (tmp_path / "handled.twdsl").write_text(HANDLED)
    return tmp_path


def env_for(project: Path) -> dict[str, str]:
    env = dict(os.environ, AGENT_LOG=str(project / "calls.log"))
    env.pop("TWDSL_STATE", None)
    return env


def twdsl(cwd: Path, *args: str, env: dict[str, str] | None = None,
          project: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=cwd,
                          env=env or env_for(project or cwd), capture_output=True, text=True,
                          timeout=120)


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "twdsl.cli", *args], cwd=cwd,
                            env=env_for(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def calls(project: Path) -> list[str]:
    log = project / "calls.log"
    if not log.exists():
        return []
    return [json.loads(line)["key"] for line in log.read_text().splitlines() if line.strip()]


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def the_run(project: Path) -> Any:
    with SQLiteStore(project / ".twdsl" / "state.db") as s:
        (run,) = s.list_runs()
        return run


def running(project: Path) -> bool:
    db = project / ".twdsl" / "state.db"
    if not db.exists():
        return False
    with SQLiteStore(db) as s:
        runs = s.list_runs()
        return bool(runs) and runs[0].status == "running"


def pause_when_some_done(project: Path, proc: subprocess.Popen[str], at_least: int) -> None:
    wait_for(lambda: running(project) and len(calls(project)) >= at_least)
    run = the_run(project)
    with SQLiteStore(project / ".twdsl" / "state.db") as s:  # what `twdsl runs pause` does
        s.request_control(run.id, "pause")
    assert proc.wait(timeout=60) == 1
    assert the_run(project).status == "paused"


# ---------------------------------------------------------------------- resume (issue 16, 1)

def test_a_run_paused_twice_keeps_its_results_and_its_start(project: Path) -> None:
    n = 40
    first = start(project, "run", "batch.twdsl", "-i", f"n={n}", "-i", "sleep=0.3",
                  "--log-format", "json")
    pause_when_some_done(project, first, 4)
    run = the_run(project)
    started = run.started_at
    second = start(project, "runs", "resume", run.id, "--log-format", "json")
    pause_when_some_done(project, second, len(calls(project)) + 4)
    assert the_run(project).started_at == started  # a resume keeps the first start
    r = twdsl(project, "runs", "resume", run.id, "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": sum(2 * i for i in range(n))}
    assert sorted(calls(project)) == sorted(f"work[{i}]" for i in range(n))  # once each
    final = the_run(project)
    assert (final.status, final.resumes, final.started_at) == ("completed", 2, started)
    shown = json.loads(twdsl(project, "runs", "show", run.id, "--format", "json").stdout)
    assert {t["key"]: t["result"] for t in shown["tasks"]} == {
        f"work[{i}]": {"n": 2 * i} for i in range(n)}  # reused results are not null
    assert all(t["started_at"] >= started for t in shown["tasks"])
    text = twdsl(project, "runs", "show", run.id).stdout
    assert "+-" not in text  # no negative offsets
    stats = json.loads(twdsl(project, "stats", "--format", "json").stdout)
    (wf,) = stats["workflows"]
    assert wf["duration"]["p95"] == pytest.approx(final.finished_at - started)


# ---------------------------------------------------------------------- tracebacks (16, 12)

def test_tracebacks_of_handled_failures_are_kept_and_shown(project: Path) -> None:
    r = twdsl(project, "run", "handled.twdsl", "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"ok": 2}
    run = the_run(project)
    shown = json.loads(twdsl(project, "runs", "show", run.id, "--format", "json").stdout)
    tasks = {t["key"]: t for t in shown["tasks"]}
    (retried,) = tasks["again"]["attempt_log"][:1]
    assert (retried["attempt"], retried["status"], retried["error"]["message"]) == (
        1, "failed", "RuntimeError: flaky the first time")
    trace = retried["error"]["details"]["traceback"]
    assert trace.startswith("Traceback (most recent call last):\n")
    assert 'raise RuntimeError("flaky the first time")' in trace
    (handled,) = tasks["fails"]["attempt_log"]
    assert (handled["status"], handled["error"]["message"]) == (
        "failed", "ValueError: no good: 7")
    trace = handled["error"]["details"]["traceback"]
    assert "in helper\n" in trace and trace.endswith("ValueError: no good: 7\n")
    text = twdsl(project, "runs", "show", run.id).stdout.splitlines()
    at = text.index("              attempt 1: failed: agent: ValueError: no good: 7")
    assert text[at + 1] == "                Traceback (most recent call last):"
    trace_lines = text[at + 1:]
    assert any(line.lstrip().startswith('File "') and "agents.py" in line and "in helper"
               in line for line in trace_lines)
    assert "                ValueError: no good: 7" in trace_lines


# ---------------------------------------------------------------------- finding it (16, 14)

ECHO = 'workflow E {\n  version: "1.0.0"\n  task t { agent: "echo" input: { x: 1 } }\n}\n'


def test_every_command_finds_the_same_store(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "flows").mkdir(parents=True)
    (top / "flows" / "e.twdsl").write_text(ECHO)
    below = top / "deep" / "er"
    below.mkdir(parents=True)
    r = twdsl(tmp_path, "runs", "list", project=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (
        2, f"twdsl: no state store found: no .twdsl/state.db in {tmp_path.resolve()} nor in a "
           "folder above it, and no twdsl.toml; nothing has run here yet, or pass "
           "--state PATH|URL or set TWDSL_STATE")
    r = twdsl(top, "run", "flows/e.twdsl", project=tmp_path)
    assert r.returncode == 0, r.stderr
    store = top.resolve() / ".twdsl" / "state.db"
    assert r.stderr.splitlines()[0] == (
        f"twdsl: recording to a new state store {store} (in the current folder)")
    for cwd in (top, below):  # from the folder of the run, and from below it
        listed = json.loads(twdsl(cwd, "runs", "list", "--format", "json",
                                  project=tmp_path).stdout)
        assert [x["workflow"] for x in listed] == ["E"]
    r = twdsl(below, "run", "../../flows/e.twdsl", project=tmp_path)  # the same store again
    assert r.returncode == 0 and "new state store" not in r.stderr
    assert len(json.loads(twdsl(top, "runs", "list", "--format", "json",
                                project=tmp_path).stdout)) == 2
    # a configuration file decides for every command below it
    (top / "twdsl.toml").write_text('[run]\nstate = "db/runs.db"\n')
    r = twdsl(tmp_path, "run", "top/flows/e.twdsl", project=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (top / "db" / "runs.db").is_file()
    listed = json.loads(twdsl(below, "runs", "list", "--format", "json",
                              project=tmp_path).stdout)
    assert len(listed) == 1
    # and TWDSL_STATE before it
    env = dict(env_for(tmp_path), TWDSL_STATE=str(tmp_path / "elsewhere.db"))
    assert twdsl(below, "run", str(top / "flows" / "e.twdsl"), env=env).returncode == 0
    assert len(json.loads(twdsl(tmp_path, "runs", "list", "--format", "json",
                                env=env).stdout)) == 1


# ---------------------------------------------------------------------- damage (16, 10)

def test_a_row_that_is_not_json_is_named_and_the_rest_works(project: Path) -> None:
    assert twdsl(project, "run", "batch.twdsl", "-i", "n=3").returncode == 0
    assert twdsl(project, "run", "batch.twdsl", "-i", "n=2").returncode == 0
    with SQLiteStore(project / ".twdsl" / "state.db") as s:
        bad, good = [r.id for r in s.list_runs()]
    db = sqlite3.connect(project / ".twdsl" / "state.db")
    db.execute("UPDATE runs SET inputs = '{\"n\": 2', outputs = 'x' WHERE id = ?", (bad,))
    db.execute("UPDATE tasks SET result = '[' WHERE run_id = ? AND key = 'work[1]'", (bad,))
    db.commit()
    db.close()
    r = twdsl(project, "runs", "list")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert bad in r.stdout and good in r.stdout
    assert r.stderr.splitlines() == [
        f"twdsl: warning: {project / '.twdsl' / 'state.db'}: run {bad}: its recorded inputs is "
        "damaged (not JSON: Expecting ',' delimiter: line 1 column 8 (char 7)); read as null",
        f"twdsl: warning: {project / '.twdsl' / 'state.db'}: run {bad}: its recorded outputs is "
        "damaged (not JSON: Expecting value: line 1 column 1 (char 0)); read as null"]
    r = twdsl(project, "runs", "show", bad)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert f"run {bad}, task work[1]: its recorded result is damaged" in r.stderr
    r = twdsl(project, "run", "batch.twdsl", "-i", "n=1")  # new runs are not blocked
    assert r.returncode == 0 and "Traceback" not in r.stderr


def test_random_damage_never_gives_a_traceback(project: Path) -> None:
    assert twdsl(project, "run", "batch.twdsl", "-i", "n=20").returncode == 0
    clean = project / "clean.db"
    path = project / ".twdsl" / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(path, clean)
    rng = random.Random(16)
    size = clean.stat().st_size
    for trial in range(4):
        shutil.copy(clean, path)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        data = bytearray(path.read_bytes())
        at = rng.randrange(100, size - 64)  # past the header: a page
        data[at:at + 48] = bytes(rng.randrange(256) for _ in range(48))
        path.write_bytes(bytes(data))
        run_id = None
        for args in (("runs", "list", "--format", "json"), ("stats",),
                     ("run", "batch.twdsl", "-i", "n=2")):
            r = twdsl(project, *args)
            assert "Traceback" not in r.stderr, (trial, args, r.stderr)
            assert r.returncode in (0, 1, 2), (trial, args, r.returncode)
            if args[:2] == ("runs", "list") and r.returncode == 0:
                runs = json.loads(r.stdout)
                run_id = runs[-1]["id"] if runs else None
        if run_id:
            r = twdsl(project, "runs", "show", run_id)
            assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2), r.stderr
    # a dropped table: the rest of the run is shown, the damage said
    shutil.copy(clean, path)
    with sqlite3.connect(path) as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()[0]
        db.execute("DROP TABLE events")
    r = twdsl(project, "runs", "show", run_id)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == (f"twdsl: warning: cannot read the state store {path} (the "
                                f"events of run {run_id}): no such table: events")
    assert sum("completed" in line for line in r.stdout.splitlines()) == 21


def test_kill_during_resume_signals_are_clean(project: Path) -> None:
    """SIGTERM of a resumed run ends it as cancelled, with everything it did recorded."""
    proc = start(project, "run", "batch.twdsl", "-i", "n=20", "-i", "sleep=0.3",
                 "--log-format", "json")
    pause_when_some_done(project, proc, 4)
    run = the_run(project)
    resumed = start(project, "runs", "resume", run.id, "--log-format", "json")
    wait_for(lambda: running(project) and len(calls(project)) >= 8)
    resumed.send_signal(signal.SIGTERM)
    assert resumed.wait(timeout=60) == 1
    done = set(calls(project))
    with SQLiteStore(project / ".twdsl" / "state.db") as s:
        assert set(s.completed_results(run.id)) == done - set()  # nothing lost
        assert s.get_run(run.id).status == "cancelled"
