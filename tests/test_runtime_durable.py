"""Durable execution and the control plane, with real processes: `twdsl run` killed with
SIGKILL at random moments and resumed; cancel and pause from a second process; retry of the
failed part only.  Agents append what they did to a log file, so the calls made across
processes can be counted."""

from __future__ import annotations

import json
import os
import random
import signal
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
    time.sleep(input.get("sleep", 0.02))
    with open(os.environ["AGENT_LOG"], "a") as f:
        f.write(json.dumps({"key": call.context["key"], "pid": os.getpid()}) + "\\n")
    return {"n": input["n"] * 2}

def gate(input, call):
    if os.path.exists(os.environ["FAIL_FLAG"]):
        raise RuntimeError("the flag is set")
    with open(os.environ["AGENT_LOG"], "a") as f:
        f.write(json.dumps({"key": call.context["key"], "pid": os.getpid()}) + "\\n")
    return {"ok": True}
'''

BATCH = '''
workflow Batch {
  version: "1.0.0"
  input {
    n: number
    sleep: number = 0.02
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

GATED = '''
workflow Gated {
  version: "1.0.0"
  output {
    a: number = first.result.n
  }
  task first {
    agent: "Work"
    input: { n: 1 }
  }
  task second {
    agent: "Gate"
    input: { after: first.result.n }
  }
  task third {
    agent: "Work"
    input: { n: 3 }
    depends: [second]
  }
}
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "agents.py").write_text(AGENTS)
    (tmp_path / "twdsl.toml").write_text(
        '[agents.Work]\npython = "agents:work"\n\n[agents.Gate]\npython = "agents:gate"\n')
    (tmp_path / "batch.twdsl").write_text(BATCH)
    (tmp_path / "gated.twdsl").write_text(GATED)
    return tmp_path


def _env(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AGENT_LOG"] = str(project / "calls.log")
    env["FAIL_FLAG"] = str(project / "fail.flag")
    env.pop("TWDSL_STATE", None)
    return env


def twdsl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=project,
                          env=_env(project), capture_output=True, text=True, timeout=120)


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "twdsl.cli", *args], cwd=project,
                            env=_env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def calls(project: Path) -> list[dict[str, Any]]:
    log = project / "calls.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def store(project: Path) -> SQLiteStore:
    return SQLiteStore(project / ".twdsl" / "state.db")


def only_run(project: Path) -> Any:
    with store(project) as s:
        (run,) = s.list_runs()
        return run


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_an_uninterrupted_run_is_recorded(project: Path) -> None:
    r = twdsl(project, "run", "batch.twdsl", "-i", "n=6", "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": 30}
    run = only_run(project)
    assert run.status == "completed" and run.outputs == {"total": 30}
    shown = json.loads(twdsl(project, "runs", "show", run.id[:12], "--format", "json").stdout)
    assert sorted((t["key"], t["status"], t["attempts"], t["result"], t["input"])
                  for t in shown["tasks"]) == \
        [(f"work[{i}]", "completed", 1, {"n": 2 * i}, {"n": i, "sleep": 0.02}) for i in range(6)]
    assert shown["tasks"][0]["line"] == 14
    listed = json.loads(twdsl(project, "runs", "list", "--format", "json").stdout)
    assert [(x["id"], x["status"]) for x in listed] == [(run.id, "completed")]
    text = twdsl(project, "runs", "show", run.id).stdout.splitlines()
    assert text[0] == f"run {run.id}  Batch 1.0.0  completed"
    assert text[4] == '  outputs  {"total": 30}'
    rows = [line.split() for line in text if "work[" in line]
    assert sorted(r[1] for r in rows) == [f"work[{i}]" for i in range(6)]
    assert {tuple(r[2:3] + r[4:]) for r in rows} == {("completed", "attempts", "1", "(line",
                                                      "14)")}


@pytest.mark.parametrize("trial", range(4))
def test_a_run_killed_at_a_random_moment_resumes_without_rerunning_completed_work(
        project: Path, trial: int) -> None:
    n = 40
    proc = start(project, "run", "batch.twdsl", "-i", f"n={n}", "--log-format", "json")
    rng = random.Random(trial)
    # wait until some work is done, then kill at a random moment of the run
    wait_for(lambda: len(calls(project)) >= 1)
    time.sleep(rng.uniform(0.0, 0.12))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = {c["key"] for c in calls(project)}
    run = only_run(project)
    listed = json.loads(twdsl(project, "runs", "list", "--format", "json").stdout)
    assert [x["status"] for x in listed] == ["interrupted"]
    with store(project) as s:
        recorded = set(s.completed_results(run.id))
    assert recorded <= before  # a recorded completion was really done
    r = twdsl(project, "runs", "resume", run.id, "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": sum(2 * i for i in range(n))}
    after = [c["key"] for c in calls(project)][len(before):]
    assert not set(after) & recorded  # nothing recorded as completed ran again
    assert before | set(after) == {f"work[{i}]" for i in range(n)}  # and everything ran
    assert len(after) == len(set(after))
    final = only_run(project)
    assert (final.status, final.resumes) == ("completed", 1)


def test_cancel_from_another_process_stops_the_run(project: Path) -> None:
    proc = start(project, "run", "batch.twdsl", "-i", "n=50", "-i", "sleep=0.5",
                 "--log-format", "json")
    wait_for(lambda: len(calls(project)) >= 1 or _running(project))
    run = only_run(project)
    r = twdsl(project, "runs", "cancel", run.id)
    assert r.returncode == 0, r.stderr
    assert proc.wait(timeout=20) == 1
    run = only_run(project)
    assert run.status == "cancelled"
    with store(project) as s:
        statuses = {t.status for t in s.task_states(run.id)}
    assert "cancelled" in statuses and "running" not in statuses
    assert len(calls(project)) < 50
    again = twdsl(project, "runs", "cancel", run.id)
    assert again.returncode == 1
    assert again.stderr.strip() == f"twdsl: run {run.id} is cancelled, not running"


def _running(project: Path) -> bool:
    db = project / ".twdsl" / "state.db"
    if not db.exists():
        return False
    with SQLiteStore(db) as s:
        runs = s.list_runs()
        if not runs or runs[0].status != "running":
            return False
        return any(t.status == "running" for t in s.task_states(runs[0].id))


def test_pause_lets_work_in_flight_finish_and_resume_continues(project: Path) -> None:
    proc = start(project, "run", "batch.twdsl", "-i", "n=30", "-i", "sleep=0.3",
                 "--log-format", "json")
    wait_for(lambda: _running(project))
    run = only_run(project)
    assert twdsl(project, "runs", "pause", run.id).returncode == 0
    assert proc.wait(timeout=20) == 1
    paused = only_run(project)
    assert paused.status == "paused"
    done_before = [c["key"] for c in calls(project)]
    with store(project) as s:
        recorded = set(s.completed_results(run.id))
    assert recorded == set(done_before)  # in-flight work finished and was recorded
    assert len(done_before) < 30
    r = twdsl(project, "runs", "resume", run.id, "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": sum(2 * i for i in range(30))}
    keys = [c["key"] for c in calls(project)]
    assert sorted(keys) == sorted(f"work[{i}]" for i in range(30))  # each exactly once


def test_retry_failed_only_reuses_exactly_the_successful_results(project: Path) -> None:
    (project / "fail.flag").write_text("")
    r = twdsl(project, "run", "gated.twdsl")
    assert r.returncode == 1
    failed = only_run(project)
    assert failed.status == "failed"
    assert failed.error["task"] == "second" and failed.error["source"] == "gated.twdsl:11:3"
    assert [c["key"] for c in calls(project)] == ["first"]
    (project / "fail.flag").unlink()
    r = twdsl(project, "runs", "retry", failed.id, "--failed-only")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"a": 2}
    assert [c["key"] for c in calls(project)] == ["first", "second", "third"]
    with store(project) as s:
        runs = s.list_runs()
        assert [x.parent_id for x in runs] == [failed.id, None]
        retry_events = [e.type for e in s.events(runs[0].id) if e.key == "first"]
    assert retry_events == ["task.reused"]
    # a plain retry runs everything again
    r = twdsl(project, "runs", "retry", failed.id)
    assert r.returncode == 0
    assert [c["key"] for c in calls(project)][3:] == ["first", "second", "third"]


def test_runs_commands_report_unknown_runs_and_missing_stores(project: Path) -> None:
    r = twdsl(project, "runs", "list")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"twdsl: no state store found: nothing at {project / '.twdsl' / 'state.db'} (beside "
        f"{project / 'twdsl.toml'}); nothing has run here yet, or pass --state PATH|URL or set "
        "TWDSL_STATE")
    twdsl(project, "run", "gated.twdsl")
    r = twdsl(project, "runs", "show", "nope")
    assert (r.returncode, r.stderr.strip()) == (
        1, f"twdsl: no run 'nope' in {project / '.twdsl' / 'state.db'} "
           "(`twdsl runs list` shows the runs)")


def test_events_go_to_a_jsonl_file_and_unbound_agents_get_a_did_you_mean(
        project: Path) -> None:
    r = twdsl(project, "run", "gated.twdsl", "--events-file", "out/events.jsonl",
              "--events", "workflow.*")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (project / "out" / "events.jsonl").read_text().splitlines()]
    run = only_run(project)
    assert [(e["type"], e["correlation_id"]) for e in lines] == [
        ("workflow.started", run.id), ("workflow.completed", run.id)]
    (project / "typo.twdsl").write_text(
        'workflow T {\n  version: "1.0.0"\n  task a { agent: "Wrok" }\n}\n')
    r = twdsl(project, "run", "typo.twdsl")  # the checker knows the bound agents
    assert r.returncode == 2
    assert "error[TW211] unknown agent 'Wrok'" in r.stderr
    assert r.stderr.strip().endswith("twdsl: typo.twdsl: 1 error; nothing was run")
    (project / "empty.toml").write_text("")
    assert twdsl(project, "compile", "typo.twdsl", "--config", "empty.toml", "-o",
                 "typo.json").returncode == 0
    r = twdsl(project, "run", "typo.json")  # a compiled program meets the bindings at run
    assert r.returncode == 2
    assert r.stderr.strip().endswith(
        "twdsl: no agent is bound for 'Wrok' (did you mean 'Work'?) in "
        f"{project / 'twdsl.toml'}; bind each under [agents.NAME] in twdsl.toml "
        "(see docs/agents.md)")


def test_watch_follows_a_run_from_another_process_until_it_ends(project: Path) -> None:
    proc = start(project, "run", "batch.twdsl", "-i", "n=6", "-i", "sleep=0.2",
                 "--log-format", "json")
    wait_for(lambda: _running(project))
    run = only_run(project)
    r = twdsl(project, "runs", "watch", run.id, "--format", "json")
    assert proc.wait(timeout=20) == 0
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "workflow.started" and types[-1] == "workflow.completed"
    assert sorted(e["key"] for e in events if e["type"] == "task.completed") == \
        [f"work[{i}]" for i in range(6)]
    assert {e["run_id"] for e in events} == {run.id}
    text = twdsl(project, "runs", "watch", run.id)  # a finished run: its events, then exit
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].endswith(f"run {run.id} of Batch started")
    assert lines[-1].endswith(f"run {run.id} completed")


def test_run_names_an_interrupted_run_of_the_same_inputs(project: Path) -> None:
    from twdsl.runtime.store import this_host

    (project / ".twdsl").mkdir()
    with store(project) as s:
        s.create_run("20261101-000000-abcdef", "Gated", inputs={}, status="running",
                     pid=2**22 + 12345, host=this_host())  # no such process
        s.create_run("20261101-000001-abcdef", "Gated", inputs={"other": 1}, status="paused")
    r = twdsl(project, "run", "gated.twdsl", "--log-format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "twdsl: run 20261101-000000-abcdef of Gated with the same inputs was interrupted; "
        "`twdsl runs resume 20261101-000000-abcdef` continues it")


def test_a_compiled_program_runs_and_an_old_ir_version_is_refused(project: Path) -> None:
    assert twdsl(project, "compile", "gated.twdsl", "-o", "gated.json").returncode == 0
    r = twdsl(project, "run", "gated.json", "--no-state")
    assert (r.returncode, json.loads(r.stdout)) == (0, {"a": 2})
    data = json.loads((project / "gated.json").read_text())
    data["ir_version"] = 1
    (project / "old.json").write_text(json.dumps(data))
    r = twdsl(project, "run", "old.json")
    assert (r.returncode, r.stderr.strip()) == (
        2, "twdsl: old.json is a program of IR version 1; this twdsl runs version 3: compile "
           "it again with `twdsl compile`")
    (project / "junk.json").write_text('{"workflow": 3}')
    r = twdsl(project, "run", "junk.json")
    assert r.returncode == 2
    assert r.stderr.startswith("twdsl: junk.json is not a compiled TWDSL program: ")


def test_ctrl_c_cancels_cleanly_and_records_it(project: Path) -> None:
    proc = start(project, "run", "batch.twdsl", "-i", "n=20", "-i", "sleep=0.5",
                 "--log-format", "json")
    wait_for(lambda: _running(project))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 1
    stderr = proc.stderr.read() if proc.stderr else ""
    run = only_run(project)
    assert run.status == "cancelled"
    assert stderr.strip().splitlines()[-1] == (
        f"twdsl: run {run.id} cancelled: the run was cancelled")
    assert "Traceback" not in stderr


def test_a_state_file_that_is_not_a_database_is_a_usage_error(project: Path) -> None:
    (project / ".twdsl").mkdir()
    (project / ".twdsl" / "state.db").write_text("not a database")
    r = twdsl(project, "run", "gated.twdsl")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"twdsl: {project / '.twdsl' / 'state.db'} is not a usable twdsl state database: file "
        "is not a database (pass --state PATH for another file, or --no-state)")
    r = twdsl(project, "runs", "list")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"twdsl: {project / '.twdsl' / 'state.db'} is not a usable")


CACHED = '''
workflow Cached {
  version: "1.0.0"
  output {
    a: number = first.result.n
  }
  task first {
    agent: "Work"
    input: { n: 4 }
    cache: 1h
  }
}
'''


def test_stats_cache_clear_and_bad_outlet_flags(project: Path) -> None:
    (project / "fail.flag").write_text("")
    assert twdsl(project, "run", "gated.twdsl").returncode == 1
    (project / "fail.flag").unlink()
    assert twdsl(project, "run", "gated.twdsl").returncode == 0
    stats = json.loads(twdsl(project, "stats", "--format", "json").stdout)
    (wf,) = stats["workflows"]
    assert (wf["workflow"], wf["runs"], wf["success_rate"]) == ("Gated", 2, 0.5)
    assert wf["failures"] == [{"reason": "agent: RuntimeError: the flag is set", "count": 1}]
    assert {t["task"]: (t["runs"], t["success_rate"]) for t in wf["tasks"]} == {
        "first": (2, 1.0), "second": (2, 0.5), "third": (1, 1.0)}
    text = twdsl(project, "stats", "Gated").stdout.splitlines()
    assert text[0].startswith("Gated: 2 runs, 50.0% succeeded, mean ")
    assert text[1] == "    1x agent: RuntimeError: the flag is set"

    (project / "cached.twdsl").write_text(CACHED)
    for _ in range(2):
        assert twdsl(project, "run", "cached.twdsl").returncode == 0
    assert [c["key"] for c in calls(project)].count("first") == 3  # 2 gated runs + 1 miss
    cleared = twdsl(project, "cache", "clear")
    assert cleared.stdout.strip() == "removed 1 cached result"
    assert twdsl(project, "run", "cached.twdsl").returncode == 0
    assert [c["key"] for c in calls(project)].count("first") == 4

    r = twdsl(project, "run", "gated.twdsl", "--webhook", "ftp://x")
    assert (r.returncode, r.stderr.strip()) == (
        2, "twdsl: --webhook 'ftp://x': expected an http:// or https:// URL")
    r = twdsl(project, "run", "gated.twdsl", "--webhook", "http://127.0.0.1:9",
              "--webhook-header", "no colon")
    assert (r.returncode, r.stderr.strip()) == (
        2, "twdsl: --webhook-header 'no colon': write 'Name: value'")
    (project / "plain").write_text("")
    r = twdsl(project, "run", "gated.twdsl", "--events-file", "plain/events.jsonl")
    assert (r.returncode, r.stderr.strip()) == (
        2, "twdsl: --events-file plain/events.jsonl: cannot write it (plain: File exists)")
    with store(project) as s:  # flags refused before the run are not recorded; after, it fails
        runs = s.list_runs()
    assert len(runs) == 6
    assert (runs[0].status, runs[0].error["message"]) == (
        "failed", "twdsl: --events-file plain/events.jsonl: cannot write it (plain: File exists)")
