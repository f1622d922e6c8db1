"""Runs and versions (docs/versions.md): a run resumed after its workflow file changed goes on
with the change when it is compatible with what already ran, is refused with the breaking
changes otherwise (or goes on as it started, with --recorded-version), and `twdsl run --version`
runs the program an earlier run of that version used.  The CLI on real files and a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cli_helpers import run

V1 = """
workflow Deploy {
  version: "1.0.0"
  output { built: any = build.result.step  shipped: any = ship.result.step }
  task build { agent: "echo" input: { step: "build-1" } }
  task gate { agent: "sleep" input: { seconds: 2 } depends: [build] }
  task ship { agent: "echo" input: { step: "ship-1" } depends: [gate] }
}
"""


def _paused_run(tmp_path: Path) -> str:
    """A run of V1 cancelled while `gate` waits: `build` completed, `ship` never ran."""
    (tmp_path / "w.twdsl").write_text(textwrap.dedent(V1))
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "run", "w.twdsl", "--state",
                          "s.db", "--log-format", "json"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    run_id = None
    for line in p.stderr:  # the run's events, one JSON object a line
        event = json.loads(line) if line.startswith("{") else {}
        run_id = event.get("run_id", run_id)
        if event.get("type") == "task.started" and event.get("task") == "gate":
            break
    assert run_id is not None
    assert run("runs", "cancel", run_id, "--state", "s.db", cwd=tmp_path).returncode == 0
    p.wait(timeout=60)
    return str(run_id)


def test_a_compatible_change_is_resumed_with(tmp_path: Path) -> None:
    rid = _paused_run(tmp_path)
    # the gate now passes and the ship step says more: compatible (same tasks, same agents)
    (tmp_path / "w.twdsl").write_text(textwrap.dedent(V1).replace(
        'seconds: 2', 'seconds: 0').replace(
        '"ship-1"', '"ship-2"').replace('"1.0.0"', '"1.1.0"'))
    r = run("runs", "resume", rid, "--state", "s.db", "--log-format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"built": "build-1", "shipped": "ship-2"}
    assert (f"twdsl: w.twdsl has changed since run {rid} started; the change is compatible"
            in r.stderr)
    shown = json.loads(run("runs", "show", rid, "--state", "s.db", "--format", "json",
                           cwd=tmp_path).stdout)
    assert shown["version"] == "1.1.0"


def test_a_breaking_change_is_refused_unless_the_recorded_version_is_asked_for(
        tmp_path: Path) -> None:
    rid = _paused_run(tmp_path)
    (tmp_path / "w.twdsl").write_text(textwrap.dedent(V1).replace(
        "task build {", "task compile {").replace("build.result", "compile.result").replace(
        "depends: [build]", "depends: [compile]").replace('"1.0.0"', '"2.0.0"'))
    r = run("runs", "resume", rid, "--state", "s.db", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith(f"twdsl: w.twdsl has changed since run {rid} started, and "
                               "these changes break what it already ran:\n")
    assert f"`twdsl runs resume {rid} --recorded-version`" in r.stderr
    r = run("runs", "resume", rid, "--state", "s.db", "--recorded-version", "--log-format",
            "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-500:]  # the recorded program, as it started
    assert json.loads(r.stdout) == {"built": "build-1", "shipped": "ship-1"}


def test_run_version_runs_the_program_an_earlier_run_used(tmp_path: Path) -> None:
    rid = _paused_run(tmp_path)
    assert rid
    (tmp_path / "w.twdsl").write_text(textwrap.dedent(V1).replace(
        '"1.0.0"', '"1.1.0"').replace("seconds: 2", "seconds: 0").replace(
        '"ship-1"', '"ship-2"'))
    r = run("run", "w.twdsl", "--state", "s.db", "--log-format", "json", cwd=tmp_path)
    assert (r.returncode, json.loads(r.stdout)) == (0, {"built": "build-1",
                                                        "shipped": "ship-2"})
    r = run("run", "w.twdsl", "--state", "s.db", "--version", "1.0.0", "--dry-run",
            cwd=tmp_path)
    assert r.returncode == 0
    assert "twdsl: running Deploy 1.0.0 as an earlier run recorded it" in r.stderr
    assert '"ship-1"' in r.stdout and "ship-2" not in r.stdout
    r = run("run", "w.twdsl", "--state", "s.db", "--version", "0.9.0", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip().splitlines()[-1]) == (
        2, "twdsl: no run of Deploy with version 0.9.0 is in the state store (versions "
           "recorded: 1.1.0, 1.0.0)")
