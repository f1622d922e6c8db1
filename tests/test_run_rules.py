"""`twdsl run`, `compile` and `graph` as real processes (issue 16): one working directory rule
for every agent, the run's header naming the configuration that bound the agents, messages
without doubled prefixes, -O out of range as a usage error, an internal error as exit 3 with
a message, a detached child that outlives its attempt, and the live view's counter."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import run

FLOW = textwrap.dedent("""\
    workflow W {
      version: "1.0.0"
      task read {
        agent: "Reader"
        input: { path: "data.txt" }
      }
      task say {
        agent: "echo"
        input: { x: 1 }
      }
      output {
        text: string = read.result
      }
    }
    """)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project in proj/ (its twdsl.toml binds Reader and echo), a workflow in proj/flows/,
    and a run started from tmp_path: three different folders."""
    proj = tmp_path / "proj"
    (proj / "flows").mkdir(parents=True)
    (proj / "data.txt").write_text("beside the configuration")
    (tmp_path / "data.txt").write_text("where twdsl was started")
    (proj / "agents.py").write_text(textwrap.dedent("""\
        import os

        def reader(input, ctx):
            with open(input["path"]) as f:
                return f.read()

        def where(input, ctx):
            return os.getcwd()
        """))
    (proj / "twdsl.toml").write_text(textwrap.dedent("""\
        [agents.Reader]
        python = "agents:reader"

        [agents.echo]
        python = "agents:where"
        """))
    (proj / "flows" / "w.twdsl").write_text(FLOW)
    return tmp_path


def test_agents_run_in_the_configurations_folder_and_the_header_says_which(
        project: Path) -> None:
    (project / "in.json").write_text("{}")
    done = run("run", "proj/flows/w.twdsl", "--no-state", "--inputs-file", "in.json",
               "--events-file", "events.jsonl", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"text": "beside the configuration"}
    lines = done.stderr.splitlines()
    assert lines[0].endswith(" of W started")
    assert lines[1][9:] == (f"agents bound by {project / 'proj' / 'twdsl.toml'}: Reader, "
                            "echo (instead of the built-in)")
    # paths of the command line are where twdsl was started; the run's cwd is restored
    assert (project / "events.jsonl").is_file()
    events = [json.loads(x) for x in (project / "events.jsonl").read_text().splitlines()]
    said = next(e for e in events if e["type"] == "task.completed" and e["key"] == "say")
    assert said["data"]["result"] == str(project / "proj")


def test_without_bindings_the_header_says_nothing_more(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(
        'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "echo"\n  }\n}\n')
    done = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "agents bound by" not in done.stderr


TIMEOUTS = {
    "workflow": ('workflow T {\n  version: "1.0.0"\n  timeout: 200ms\n  task wait {\n'
                 '    agent: "sleep"\n    input: { seconds: 5 }\n  }\n}\n',
                 "timeout: the workflow ran past its timeout of 200ms"),
    "task": ('workflow T {\n  version: "1.0.0"\n  task wait {\n    agent: "sleep"\n'
             '    input: { seconds: 5 }\n    timeout: 200ms\n  }\n}\n',
             "failed: task 'wait' (t.twdsl:3:3): timeout: task 'wait' ran past its timeout of "
             "200ms (attempt 1)"),
}


@pytest.mark.parametrize("which", sorted(TIMEOUTS))
def test_timeouts_are_said_once(tmp_path: Path, which: str) -> None:
    source, said = TIMEOUTS[which]
    (tmp_path / "t.twdsl").write_text(source)
    done = run("run", "t.twdsl", "--no-state", "--log-format", "text", cwd=tmp_path)
    assert done.returncode == 1
    assert "timeout: timeout:" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("twdsl: run ") and last.endswith(f" {said}"), last
    if which == "task":
        assert any(line.endswith(" wait timeout: task 'wait' ran past its timeout of 200ms "
                                 "(attempt 1)") for line in done.stderr.splitlines())


def test_runs_show_says_an_attempts_timeout_once(tmp_path: Path) -> None:
    (tmp_path / "t.twdsl").write_text(TIMEOUTS["task"][0])
    state = str(tmp_path / "state.db")
    assert run("run", "t.twdsl", "--state", state, cwd=tmp_path).returncode == 1
    run_id = run("runs", "list", "--state", state, cwd=tmp_path).stdout.splitlines()[1].split()[0]
    shown = run("runs", "show", run_id, "--state", state, cwd=tmp_path).stdout
    assert "timeout: timeout:" not in shown
    assert "attempt 1: timeout: task 'wait' ran past its timeout of 200ms (attempt 1)" in shown


def test_a_cancelled_run_is_said_once(tmp_path: Path) -> None:
    (tmp_path / "c.twdsl").write_text(
        'workflow C {\n  version: "1.0.0"\n  task wait {\n    agent: "sleep"\n'
        '    input: { seconds: 30 }\n  }\n}\n')
    proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "run", "c.twdsl", "--no-state",
                             "--log-format", "text"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the attempt runs: the signal handlers are in place
        if line.endswith(" wait started (attempt 1)\n"):
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert rest.splitlines()[-1].endswith(" cancelled: the run was cancelled"), rest


@pytest.mark.parametrize("command", ["compile", "graph", "run"])
def test_an_optimization_level_out_of_range_is_a_usage_error(tmp_path: Path,
                                                             command: str) -> None:
    (tmp_path / "w.twdsl").write_text('workflow W {\n  version: "1.0.0"\n}\n')
    done = run(command, "w.twdsl", "-O", "7", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1].endswith(": 7 is not in the range 0<=x<=1.")


def test_a_program_too_deep_to_write_is_refused_by_the_checker(tmp_path: Path) -> None:
    """Nested deeper than the IR's JSON writer goes: `twdsl check` bounds nesting (TW125), so
    compile and run refuse it as a mistake in the file, never with a traceback."""
    depth = 90
    (tmp_path / "d.twdsl").write_text(
        'workflow W {\n  version: "1.0.0"\n  output {\n    r: object = '
        + "{ a: " * depth + "1" + " }" * depth + "\n  }\n}\n")
    for args, code in ((["compile", "d.twdsl"], 1), (["run", "d.twdsl"], 2)):
        done = run(*args, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (code, ""), done.stderr
        assert done.stderr.startswith("d.twdsl:4:17: error[TW125] this expression nests more "
                                      "than 64 levels deep")
        assert "Traceback" not in done.stderr


def test_a_detached_child_holding_the_pipes_does_not_hold_up_the_exit(tmp_path: Path) -> None:
    """The attempt times out while a child in a session of its own keeps stdout and stderr:
    the run ends at once and Python says nothing about a closed event loop."""
    pidfile = tmp_path / "child.pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' & sleep 30"
    (tmp_path / "twdsl.toml").write_text(
        f'[agents.Det]\ncommand = ["sh", "-c", "{script}"]\ntimeout = 0.5\nkill_grace = 0.2\n')
    (tmp_path / "w.twdsl").write_text(
        'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "Det"\n  }\n}\n')
    try:
        done = subprocess.run([sys.executable, "-m", "twdsl.cli", "run", "w.twdsl",
                               "--no-state"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=50)  # the child sleeps 60 s: no waiting for it
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1].endswith(
            "timeout: command agent 'Det' ran past its timeout of 0.5s and was stopped")
        assert "Exception ignored" not in done.stderr
        assert "Event loop is closed" not in done.stderr
        assert pidfile.exists()
        os.kill(int(pidfile.read_text()), 0)  # the detached child was out of reach: alive
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_the_live_view_counts_tasks_done(tmp_path: Path) -> None:
    """On a terminal (a pseudo-terminal here) the live table's title counts the tasks."""
    (tmp_path / "w.twdsl").write_text(
        'workflow Live {\n  version: "1.0.0"\n  task a {\n    agent: "echo"\n  }\n'
        '  task b {\n    agent: "echo"\n  }\n  task c {\n    agent: "echo"\n'
        '    depends: [a, b]\n  }\n}\n')
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "run", "w.twdsl",
                             "--no-state"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=child, env={**os.environ, "COLUMNS": "120",
                                               "TERM": "xterm"})
    os.close(child)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    assert proc.wait(timeout=60) == 0
    os.close(main)
    screen = out.decode("utf-8", "replace")
    assert "3/3 done" in screen, screen[-2000:]
    assert "Live · run " in screen
