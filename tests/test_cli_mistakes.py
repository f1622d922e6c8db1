"""A user's mistakes, made the way a new user makes them, on every command: `twdsl` as a real
process on real files.  Each mistake gets exit 2 (docs/cli.md), one message naming the file,
the input or the flag and what to do, no Python traceback, and loses nothing (the state store
still opens, a file named keeps its kind).  A case here failed before its fix."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

FLOW = """agent Echo {
  input {
    text: string
  }
  output {
    text: string
  }
}

workflow Hello {
  version: "1.0.0"
  timeout: 1m
  input {
    name: string
  }
  output {
    said: string = greet.result.text
  }
  task greet {
    agent: Echo
    input: { text: "hi ${name}" }
    timeout: 10s
  }
}
"""
AGENTS = "def echo(input, ctx):\n    return {'text': input['text']}\n"
BOUND = '[agents.Echo]\npython = "agents:echo"\n'


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A folder with a workflow, its agent and a twdsl.toml binding it."""
    (tmp_path / "flow.twdsl").write_text(FLOW)
    (tmp_path / "agents.py").write_text(AGENTS)
    (tmp_path / "twdsl.toml").write_text(BOUND)
    return tmp_path


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m twdsl.cli ARGS`` in ``cwd``, stdin empty, with ``env`` added."""
    full = {k: v for k, v in os.environ.items() if k != "TWDSL_STATE"}
    full.update({"NO_COLOR": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=full,
                          timeout=timeout)


def mistake(r: object, *words: str, code: int = 2) -> None:
    """``r`` (a finished process) is a user's mistake: exit ``code``, no traceback, and the
    message on stderr says every one of ``words``."""
    assert r.returncode == code, (r.returncode, r.stderr)  # type: ignore[attr-defined]
    err: str = r.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and "internal error" not in err, err
    for w in words:
        assert w in err, (w, err)


# ---------------------------------------------------------------- configuration files

COMMANDS_READING_CONFIG = [
    ("check", "flow.twdsl"),
    ("compile", "flow.twdsl", "-o", "ir.json"),
    ("run", "flow.twdsl", "-i", "name=x", "--no-state"),
    ("runs", "list"),
]


@pytest.mark.parametrize("args", COMMANDS_READING_CONFIG, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("name, content, words", [
    ("twdsl.toml", b'[check]\nignore = ["caf\xe9"]\n',
     ("twdsl.toml", "not UTF-8", "line 2", "save it as UTF-8")),
    ("twdsl.toml", b'[check.severity]\nTW501 = ["error"]\n',
     ("twdsl.toml", "check.severity.TW501", "the level must be one of")),
    ("twdsl.toml", b"[run]\nstate = " + b"[" * 3000 + b"]" * 3000 + b"\n",
     ("twdsl.toml", "nests too deeply")),
], ids=["not-utf8", "level-a-list", "nested-too-deep"])
def test_a_configuration_that_cannot_be_used(project: Path, args: tuple[str, ...], name: str,
                                             content: bytes, words: tuple[str, ...]) -> None:
    (project / "twdsl.toml").unlink()
    (project / name).write_bytes(content)
    r = run(*args, cwd=project)
    mistake(r, *words)
    assert not (project / "ir.json").exists()


@pytest.mark.parametrize("args", COMMANDS_READING_CONFIG, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("content", [b'tool = "poetry"\n', b'[tool]\ntwdsl = 3\n',
                                     b'[tool.twdsl]\n# caf\xe9\n',
                                     b"[tool]\nx = " + b"[" * 3000 + b"]" * 3000 + b"\n"])
def test_a_pyproject_without_a_usable_twdsl_table_is_passed_over(
        project: Path, args: tuple[str, ...], content: bytes) -> None:
    """As docs/cli.md says of a pyproject.toml that is not valid TOML: the twdsl.toml of
    the folder above applies."""
    sub = project / "sub"
    sub.mkdir()
    (project / "flow.twdsl").rename(sub / "flow.twdsl")
    (sub / "pyproject.toml").write_bytes(content)
    r = run(*args, cwd=sub)
    assert "Traceback" not in r.stderr
    if args[0] == "run":
        assert r.returncode == 0 and json.loads(r.stdout) == {"said": "hi x"}, r.stderr
    elif args[0] == "runs":
        mistake(r, "no state store found", f"beside {project / 'twdsl.toml'}")
    else:
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args", [("check", "flow.twdsl"),
                                  ("run", "flow.twdsl", "-i", "name=x", "--no-state")])
@pytest.mark.parametrize("content", ['[tool]\ntwdsl = 3\n', 'tool = "poetry"\n'])
def test_a_forced_pyproject_without_a_twdsl_table(project: Path, args: tuple[str, ...],
                                                 content: str) -> None:
    (project / "pyproject.toml").write_text(content)
    r = run(*args, "--config", "pyproject.toml", cwd=project)
    mistake(r, "pyproject.toml", "must be a table")


# ---------------------------------------------------------------- the workflow file

SOURCE_COMMANDS = [("run", "--no-state", "-i", "name=x"), ("submit", "-i", "name=x"), ("compile",),
                   ("check",)]


@pytest.mark.parametrize("args", SOURCE_COMMANDS, ids=lambda a: a[0])
def test_a_workflow_file_that_is_not_utf8(project: Path, args: tuple[str, ...]) -> None:
    (project / "flow.twdsl").write_bytes(FLOW.replace('"hi ', '"h\xe9 ').encode("latin-1"))
    r = run(args[0], "flow.twdsl", *args[1:], cwd=project)
    mistake(r, "'flow.twdsl' is not UTF-8 text (invalid byte at line 21); save it as UTF-8")


@pytest.mark.parametrize("args", SOURCE_COMMANDS, ids=lambda a: a[0])
def test_a_byte_order_mark_is_dropped_by_every_command(project: Path,
                                                       args: tuple[str, ...]) -> None:
    """Editors on Windows write one; `check` and `compile` always dropped it."""
    (project / "flow.twdsl").write_bytes(b"\xef\xbb\xbf" + FLOW.replace("\n", "\r\n").encode())
    r = run(args[0], "flow.twdsl", *args[1:], "--state", "s.db", cwd=project) \
        if args[0] == "submit" else run(args[0], "flow.twdsl", *args[1:], cwd=project)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    if args[0] == "run":
        assert json.loads(r.stdout) == {"said": "hi x"}


def test_a_compiled_program_with_a_byte_order_mark_runs(project: Path) -> None:
    assert run("compile", "flow.twdsl", "-o", "flow.json", cwd=project).returncode == 0
    ir = project / "flow.json"
    ir.write_bytes(b"\xef\xbb\xbf" + ir.read_bytes())
    r = run("run", "flow.json", "-i", "name=x", "--no-state", cwd=project)
    assert r.returncode == 0 and json.loads(r.stdout) == {"said": "hi x"}, r.stderr


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, ("deep.json is not a compiled TWDSL program",)),
    ("{", ("deep.json is not a compiled TWDSL program: Invalid JSON",)),
    ("[]", ("deep.json is not a compiled TWDSL program: Input should be an object",)),
], ids=["nested-too-deep", "not-json", "an-array"])
@pytest.mark.parametrize("command", ["run", "submit"])
def test_a_json_file_that_is_not_a_program(project: Path, command: str, text: str,
                                           words: tuple[str, ...]) -> None:
    (project / "deep.json").write_text(text)
    r = run(command, "deep.json", "--state", "s.db", cwd=project)
    mistake(r, *words)
    assert not r.stderr.rstrip().endswith(" at"), r.stderr  # no empty place named


# ---------------------------------------------------------------- where the state store is

STORE_COMMANDS = [
    ("run", "flow.twdsl", "-i", "name=x"),
    ("submit", "flow.twdsl", "-i", "name=x"),
    ("runs", "list"),
    ("runs", "show", "20261205"),
    ("runs", "cancel", "20261205"),
    ("stats",),
    ("cache", "clear"),
    ("queue",),
    ("schedules", "list"),
    ("token", "list"),
    ("worker", "--exit-when-idle"),
]
STORE_IDS = [" ".join(a[:2]) if a[0] in ("runs", "schedules", "token") else a[0]
             for a in STORE_COMMANDS]


def kind(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=STORE_IDS)
@pytest.mark.parametrize("state, words", [
    ("foo://bar/state.db", ("'foo://bar/state.db' is not a state store",
                            "a SQLite file's path or a postgresql:// URL")),
    ("http://localhost/state", ("'http://localhost/state' is not a state store",)),
    ("adir", ("adir is a folder", "adir/state.db")),
    ("flow.twdsl/state.db", ("flow.twdsl/state.db", "flow.twdsl is a file, not a folder")),
    ("fifo", ("fifo is not a regular file", "a SQLite file")),
    ("", ("--state is empty",)),
], ids=["other-scheme", "http", "folder", "under-a-file", "fifo", "empty"])
def test_a_state_store_that_cannot_be(project: Path, args: tuple[str, ...], state: str,
                                      words: tuple[str, ...]) -> None:
    """Nothing is created for it: no folder named 'foo:', no journal beside a pipe."""
    (project / "adir").mkdir()
    os.mkfifo(project / "fifo")
    before = sorted(p.name for p in project.iterdir())
    kinds = {p: kind(project / p) for p in ("adir", "fifo", "flow.twdsl")}
    r = run(*args, "--state", state, cwd=project)
    mistake(r, *words)
    assert sorted(p.name for p in project.iterdir()) == before
    assert {p: kind(project / p) for p in kinds} == kinds


@pytest.mark.parametrize("where", ["env", "config"])
def test_a_state_store_that_cannot_be_named_elsewhere(project: Path, where: str) -> None:
    env = None
    if where == "env":
        env = {"TWDSL_STATE": "s3://bucket/state.db"}
    else:
        (project / "twdsl.toml").write_text(BOUND + '[run]\nstate = "s3://bucket/state.db"\n')
    r = run("runs", "list", cwd=project, env=env)
    mistake(r, "'s3://bucket/state.db' is not a state store",
            "$TWDSL_STATE" if where == "env" else "[run] state in")
    assert not (project / "s3:").exists()


def test_a_device_as_the_state_store_is_refused_and_left_alone(project: Path) -> None:
    """SQLite would write a journal beside it (/dev/null-journal, as root)."""
    r = run("runs", "list", "--state", "/dev/null", cwd=project)
    mistake(r, "/dev/null is not a regular file")
    assert not Path("/dev/null-journal").exists()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_state_and_no_state_together(project: Path) -> None:
    r = run("run", "flow.twdsl", "-i", "name=x", "--no-state", "--state", "x.db", cwd=project)
    mistake(r, "--state", "--no-state", "one or the other")
    assert not (project / "x.db").exists()


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=STORE_IDS)
def test_a_postgresql_url_where_no_server_listens(project: Path, args: tuple[str, ...]) -> None:
    r = run(*args, "--state", "postgresql://ada:secret@127.0.0.1:1/runs", cwd=project)
    mistake(r, "postgresql://ada:***@127.0.0.1:1/runs", "Connection refused")
    assert "secret" not in r.stderr


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=STORE_IDS)
def test_the_database_of_another_program_is_left_alone(project: Path,
                                                       args: tuple[str, ...]) -> None:
    db = project / "app.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("INSERT INTO customers (name) VALUES ('Ada')")
    c.close()
    before = db.read_bytes()
    r = run(*args, "--state", "app.db", cwd=project)
    mistake(r, "app.db is a SQLite database of another program (its tables: customers)",
            "give another path")
    assert db.read_bytes() == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith("app.db")) == [
        "app.db"]


# ---------------------------------------------------------------- run ids

@pytest.mark.parametrize("command", ["show", "watch", "resume", "retry", "pause", "cancel"])
@pytest.mark.parametrize("run_id", ["", " "])
def test_an_empty_run_id_names_no_run(project: Path, command: str, run_id: str) -> None:
    """An empty id is a prefix of every id: with one run in the store, `runs retry "$ID"` with
    ID unset ran it again."""
    first = run("run", "flow.twdsl", "-i", "name=x", cwd=project)
    assert first.returncode == 0, first.stderr
    r = run("runs", command, run_id, cwd=project)
    mistake(r, "the run id is empty", "`twdsl runs list` shows the runs")
    listed = run("runs", "list", "--format", "json", cwd=project)
    assert [x["status"] for x in json.loads(listed.stdout)] == ["completed"]


# ---------------------------------------------------------------- servers' arguments

def test_lsp_on_a_port_out_of_range(tmp_path: Path) -> None:
    r = run("lsp", "--tcp", "--port", "99999", cwd=tmp_path)
    mistake(r, "Invalid value for '--port'", "99999 is not in the range 0<=x<=65535")


def test_lsp_on_a_port_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run("lsp", "--tcp", "--port", str(port), cwd=tmp_path, timeout=30)
    mistake(r, f"cannot listen on 127.0.0.1:{port}", "Address already in use")


@pytest.mark.parametrize("flag", [("--port", "2090"), ("--host", "0.0.0.0")])
def test_lsp_tcp_options_without_tcp(tmp_path: Path, flag: tuple[str, str]) -> None:
    r = run("lsp", *flag, cwd=tmp_path)
    mistake(r, f"{flag[0]} is for --tcp")


# ---------------------------------------------------------------- other files a command reads

@pytest.mark.parametrize("content, words", [
    (b"[" * 100_000 + b"]" * 100_000, ("b.json", "nested too deeply",
                                       "write it again with --write-baseline")),
    (b'{"format": 1, "findings": [\n"caf\xe9"]}', ("b.json", "not UTF-8 text",
                                                  "line 2")),
    (b'{"format": 1, "findings": [{"file": "f", "code": "TW501", "message": "m", '
     b'"line": "l", "count": 1e400}]}', ("b.json", "finding 1")),
], ids=["nested-too-deep", "not-utf8", "count-infinite"])
def test_a_baseline_that_cannot_be_read(project: Path, content: bytes,
                                        words: tuple[str, ...]) -> None:
    (project / "b.json").write_bytes(content)
    r = run("check", "flow.twdsl", "--baseline", "b.json", cwd=project)
    mistake(r, *words)
    assert (project / "b.json").read_bytes() == content


@pytest.mark.parametrize("where", ["inputs", "inputs_file"])
def test_a_test_file_nested_too_deeply(project: Path, where: str) -> None:
    deep = "[" * 2000 + "]" * 2000
    if where == "inputs":
        line = f"inputs = {deep}"
    else:
        (project / "deep.json").write_text(deep)
        line = 'inputs_file = "deep.json"'
    (project / "t.test.toml").write_text(
        f'file = "flow.twdsl"\n[[test]]\nname = "a"\n{line}\n'
        '[test.expect]\nstatus = "completed"\n')
    r = run("test", "t.test.toml", cwd=project)
    mistake(r, "t.test.toml", "nests too deeply", "nothing was run")


# ---------------------------------------------------------------- output files

@pytest.mark.parametrize("args, target", [
    (("compile", "flow.twdsl", "-o", "flow.twdsl"), "flow.twdsl"),
    (("compile", "flow.twdsl", "-o", "./link.twdsl"), "flow.twdsl"),
    (("graph", "flow.twdsl", "--output", "flow.twdsl"), "flow.twdsl"),
    (("check", "flow.twdsl", "--write-baseline", "flow.twdsl"), "flow.twdsl"),
    (("test", "t.test.toml", "--junit", "t.test.toml"), "t.test.toml"),
    (("run", "flow.twdsl", "-i", "name=x", "--no-state", "--events-file", "flow.twdsl"),
     "flow.twdsl"),
    (("run", "flow.twdsl", "-i", "name=x", "--no-state", "--events-file", "twdsl.toml"),
     "twdsl.toml"),
], ids=["compile", "compile-through-a-link", "graph", "write-baseline", "junit",
        "events-file", "events-file-config"])
def test_an_output_that_is_a_file_the_command_reads(project: Path, args: tuple[str, ...],
                                                    target: str) -> None:
    """A slip of the tab key must not replace the workflow with its IR."""
    (project / "link.twdsl").symlink_to("flow.twdsl")
    (project / "t.test.toml").write_text(
        'file = "flow.twdsl"\n[[test]]\nname = "a"\ninputs = { name = "x" }\n'
        '[test.agents.Echo]\nresult = { text = "hi" }\n[test.expect]\nstatus = "completed"\n')
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    r = run(*args, cwd=project)
    flag = args[args.index(next(a for a in args if a.startswith("-") and a not in ("-i",
                                                                                 "--no-state")))]
    mistake(r, flag, "is a file this command reads", "write to another file")
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("url", ["not a url", "example.com", "ftp://example.com", "https://"])
def test_server_public_url_that_is_not_one(project: Path, url: str) -> None:
    """Refused before the server listens (links in notifications would be broken)."""
    r = run("server", "--port", "0", "--public-url", url, cwd=project, timeout=30)
    mistake(r, f"--public-url {url!r}", "https://")


# ---------------------------------------------------------------- pinned: already sound

@pytest.mark.parametrize("args", [
    ("check", "{f}"), ("fmt", "{f}"), ("compile", "{f}"), ("graph", "{f}"),
    ("run", "{f}", "--no-state"), ("submit", "{f}", "--state", "s.db"), ("test", "{f}"),
    ("diff", "{f}", "flow.twdsl"), ("diff", "flow.twdsl", "{f}"),
], ids=lambda a: "-".join(x for x in a if not x.startswith(("-", "{", "s."))))
@pytest.mark.parametrize("name, words", [
    ("missing.twdsl", ("missing.twdsl", "o")),  # "does not exist" / "No such file"
    ("adir", ("adir",)),
], ids=["missing", "a-folder"])
def test_a_file_argument_that_is_not_a_file(project: Path, args: tuple[str, ...], name: str,
                                            words: tuple[str, ...]) -> None:
    (project / "adir").mkdir()
    r = run(*(a.replace("{f}", name) for a in args), cwd=project)
    mistake(r, *words)
    assert not (project / "s.db").exists()


@pytest.mark.parametrize("extra, words", [
    (("-i", "name=x", "-i", "nope=1"), ("--input nope", "no input 'nope'", "its inputs: name")),
    (("-i", "name"), ("--input 'name'", "write name=value")),
    (("-i", "=x"), ("--input '=x'", "the name is missing", "write name=value")),
    ((), ("input 'name' (string) is required", "--input name=")),
    (("--inputs-file", "missing.json"), ("cannot read missing.json",)),
    (("--inputs-file", "bad.json"), ("bad.json:1:2", "not valid JSON")),
    (("--inputs-file", "list.json"), ("list.json", "expected a JSON object of inputs")),
    (("--inputs-file", "wrong.json"), ("input 'name'", "expected a string, got 3")),
    (("--inputs-file", "adir"), ("--inputs-file", "adir", "is a directory")),
], ids=["unknown-name", "no-equals", "no-name", "missing-input", "file-missing", "file-not-json",
        "file-not-an-object", "file-wrong-type", "file-a-folder"])
def test_inputs_that_do_not_fit(project: Path, extra: tuple[str, ...],
                                words: tuple[str, ...]) -> None:
    """Nothing is run and nothing is recorded; the store still opens."""
    (project / "adir").mkdir()
    (project / "bad.json").write_text("{")
    (project / "list.json").write_text('["x"]')
    (project / "wrong.json").write_text('{"name": 3}')
    r = run("run", "flow.twdsl", *extra, cwd=project)
    mistake(r, *words)
    listed = run("runs", "list", "--format", "json", cwd=project)
    assert listed.returncode in (0, 2) and "Traceback" not in listed.stderr
    assert listed.returncode == 2 or json.loads(listed.stdout) == []


@pytest.mark.parametrize("args", [
    ("run", "flow.twdsl", "--log-format", "xml"), ("check", "flow.twdsl", "--format", "xml"),
    ("graph", "flow.twdsl", "--format", "pdf"), ("diff", "flow.twdsl", "flow.twdsl",
                                                 "--format", "xml"),
    ("runs", "list", "--format", "xml"), ("stats", "--format", "xml"),
    ("queue", "--format", "xml"), ("test", "--format", "xml"),
    ("queue", "--window", "-5m"),
    ("submit", "flow.twdsl", "--priority", "5000"), ("worker", "--concurrency", "0"),
    ("server", "--port", "70000"), ("debug", "--port", "1"),
    ("token", "create", "--role", "god"),
], ids=lambda a: "-".join(a[:1] + a[-2:-1]))
def test_an_unknown_option_value(project: Path, args: tuple[str, ...]) -> None:
    r = run(*args, cwd=project, timeout=30)
    mistake(r, "Error: ", args[-1] if args[-1] != "1" else "--port")
    assert not (project / ".twdsl").exists()


def test_sigterm_cancels_a_run_cleanly_and_keeps_what_it_did(project: Path) -> None:
    (project / "agents.py").write_text(
        "import time\n\ndef echo(input, ctx):\n    if input['text'] == 'hi slow':\n"
        "        time.sleep(30)\n    return {'text': input['text']}\n")
    (project / "flow.twdsl").write_text(FLOW.replace(
        '  task greet {', '  task first {\n    agent: Echo\n    input: { text: "fast" }\n'
        '    timeout: 10s\n  }\n  task greet {\n    depends: [first]'))
    proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "run", "flow.twdsl", "-i",
                             "name=slow", "--log-format", "text"], cwd=project,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.endswith(" greet started (attempt 1)\n"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in rest
    assert rest.splitlines()[-1].endswith(" cancelled: the run was cancelled"), rest
    listed = run("runs", "list", "--format", "json", cwd=project)
    (only,) = json.loads(listed.stdout)
    assert only["status"] == "cancelled"
    shown = run("runs", "show", only["id"], "--format", "json", cwd=project)
    tasks = {t["key"]: t for t in json.loads(shown.stdout)["tasks"]}
    assert tasks["first"]["status"] == "completed"
    assert tasks["first"]["result"] == {"text": "fast"}


@pytest.mark.parametrize("command", [("runs", "list"), ("stats",)], ids=["runs-list", "stats"])
@pytest.mark.parametrize("store", [True, False], ids=["a-store", "no-store"])
def test_since_that_is_not_a_date(project: Path, command: tuple[str, ...], store: bool) -> None:
    """Said before the store is looked for: the mistake is in the flag."""
    if store:
        assert run("run", "flow.twdsl", "-i", "name=x", cwd=project).returncode == 0
    r = run(*command, "--since", "yesterday", cwd=project)
    mistake(r, "Invalid value for '--since'", "'yesterday'", "write a date (2026-11-20)")


@pytest.mark.parametrize("command", [("runs", "list"), ("stats",)], ids=["runs-list", "stats"])
@pytest.mark.parametrize("since", ["0001-01-01", "1900-01-01T00:00:00+00:00", "9999-12-31",
                                   "99999999999999999999d"])
def test_since_far_in_the_past_or_future(project: Path, command: tuple[str, ...],
                                         since: str) -> None:
    assert run("run", "flow.twdsl", "-i", "name=x", cwd=project).returncode == 0
    r = run(*command, "--since", since, "--format", "json", cwd=project)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    found = json.loads(r.stdout)
    n = len(found) if command[0] == "runs" else len(found["workflows"])
    assert n == (0 if since.startswith("9999-") else 1)


@pytest.mark.parametrize("args, flag", [
    (("runs", "list", "--limit", "99999999999999999999"), "--limit"),
    (("schedules", "fires", "Hello", "--limit", "99999999999999999999"), "--limit"),
    (("worker", "--exit-when-idle", "--lease", "nan"), "--lease"),
    (("worker", "--exit-when-idle", "--lease", "inf"), "--lease"),
    (("worker", "--exit-when-idle", "--poll", "nan"), "--poll"),
    (("server", "--port", "0", "--missed-grace", "nan"), "--missed-grace"),
], ids=["runs-limit", "fires-limit", "lease-nan", "lease-inf", "poll-nan", "grace-nan"])
def test_a_number_out_of_any_sense(project: Path, args: tuple[str, ...], flag: str) -> None:
    """Said before anything starts (a lease of NaN seconds never ends nor lapses)."""
    assert run("run", "flow.twdsl", "-i", "name=x", cwd=project).returncode == 0
    r = run(*args, cwd=project, timeout=30)
    mistake(r, f"Invalid value for '{flag}'")


@pytest.mark.parametrize("command", ["run", "submit"])
def test_an_inputs_file_with_a_byte_order_mark(project: Path, command: str) -> None:
    """Windows editors write one; every other file twdsl reads may have it."""
    (project / "in.json").write_bytes(b'\xef\xbb\xbf{"name": "x"}\r\n')
    r = run(command, "flow.twdsl", "--inputs-file", "in.json", "--state", "s.db", cwd=project)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    if command == "run":
        assert json.loads(r.stdout) == {"said": "hi x"}


# ---------------------------------------------------------------- standard input

PRETTY = 'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "A"\n  }\n}\n'


def fmt_stdin(cwd: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1", "LC_ALL": "C.UTF-8", "PYTHONUTF8": "0"}
    return subprocess.run([sys.executable, "-m", "twdsl.cli", "fmt", "-"], cwd=cwd,
                          input=data, capture_output=True, env=env, timeout=60)


@pytest.mark.parametrize("data, line", [(b"workflow W {\n  description: \"caf\xe9\"\n}\n", 2),
                                        (bytes(range(256)) * 8, 2)], ids=["latin1", "binary"])
def test_fmt_of_standard_input_that_is_not_utf8(tmp_path: Path, data: bytes,
                                                line: int) -> None:
    """Said in one line, as for a file; the bytes go through unchanged (a pipe loses
    nothing)."""
    r = fmt_stdin(tmp_path, data)
    assert r.returncode == 2
    assert r.stdout == data
    assert r.stderr.decode() == (f"twdsl: error: '<stdin>' is not UTF-8 text (invalid byte at "
                                 f"line {line}); save it as UTF-8\n")


def test_fmt_of_standard_input_keeps_crlf_and_drops_a_bom_as_for_a_file(tmp_path: Path) -> None:
    ugly = b'workflow W{version:"1.0.0"\r\ntask a{agent:"A"}}\r\n'
    r = fmt_stdin(tmp_path, b"\xef\xbb\xbf" + ugly)
    assert (r.returncode, r.stderr) == (0, b"")
    assert r.stdout == PRETTY.replace("\n", "\r\n").encode()
    (tmp_path / "w.twdsl").write_bytes(b"\xef\xbb\xbf" + ugly)
    assert run("fmt", "w.twdsl", cwd=tmp_path).returncode == 0
    assert (tmp_path / "w.twdsl").read_bytes() == r.stdout


def test_lsp_on_a_terminal_says_what_it_is(tmp_path: Path) -> None:
    """A new user typing `twdsl lsp` saw nothing happen (it waited for JSON-RPC)."""
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "twdsl.cli", "lsp"], stdin=terminal,
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
    finally:
        os.close(controller)
        os.close(terminal)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("twdsl lsp speaks the Language Server Protocol on stdin and stdout: "
                           "start it from an editor (docs/editors.md), or listen with --tcp\n")


@pytest.mark.parametrize("pattern", ["tsk.*", "task.complete", "workflow"])
def test_an_events_pattern_that_matches_no_event_type(project: Path, pattern: str) -> None:
    """A misspelt filter sent nothing to the file or the webhooks, silently."""
    r = run("run", "flow.twdsl", "-i", "name=x", "--no-state", "--events-file", "e.jsonl",
            "--events", "task.failed", "--events", pattern, cwd=project)
    mistake(r, f"--events {pattern!r} matches no event type", "task.completed",
            "workflow.started")
    assert not (project / "e.jsonl").exists()


def test_events_patterns_that_match(project: Path) -> None:
    r = run("run", "flow.twdsl", "-i", "name=x", "--no-state", "--events-file", "e.jsonl",
            "--events", "workflow.*", "--events", "task.[cs]*ed", cwd=project)
    assert r.returncode == 0, r.stderr
    types = [json.loads(line)["type"] for line in (project / "e.jsonl").read_text().splitlines()]
    assert types == ["workflow.started", "task.started", "task.completed",
                     "workflow.completed"]


def test_every_event_type_emitted_is_known_to_the_events_filter() -> None:
    """`--events` refuses a pattern matching none of runtime.events.TYPES: the list must hold
    every type the engine emits (literals, and the final statuses it emits by name)."""
    import re

    from twdsl.runtime.events import TYPES

    root = Path(__file__).resolve().parents[1]
    text = "".join(p.read_text() for p in (root / "runtime").rglob("*.py"))
    literals = set(re.findall(r"\"((?:workflow|task)\.[a-z_]+)\"", text))
    assert literals <= set(TYPES), literals - set(TYPES)
    assert {f"workflow.{s}" for s in ("completed", "failed", "timeout")} <= set(TYPES)
    assert {f"task.{s}" for s in ("completed", "failed", "timeout", "cancelled")} <= set(TYPES)


@pytest.mark.parametrize("args", [("check",), ("fmt",), ("compile",), ("graph",),
                                  ("run", "--no-state"), ("submit", "--state", "s.db")],
                         ids=lambda a: a[0])
def test_a_misspelt_file_name_gets_a_suggestion(project: Path, args: tuple[str, ...]) -> None:
    r = run(args[0], "flwo.twdsl", *args[1:], cwd=project)
    mistake(r, "flwo.twdsl", "did you mean 'flow.twdsl'?")
    (project / "dangling.twdsl").symlink_to("gone.twdsl")
    r = run(args[0], "dangling.twdsl", *args[1:], cwd=project)
    mistake(r, "dangling.twdsl", "it is a symbolic link to 'gone.twdsl', which does not exist")


@pytest.mark.parametrize("args", [("compile", "flow.twdsl"), ("graph", "flow.twdsl"),
                                  ("run", "flow.twdsl", "-i", "name=x"),
                                  ("check", "flow.twdsl", "--format", "json"),
                                  ("runs", "list", "--format", "json")],
                         ids=lambda a: a[0])
def test_standard_output_on_a_full_disk(project: Path, args: tuple[str, ...]) -> None:
    """`> /dev/full` stands for a disk that fills up under a redirection."""
    assert run("run", "flow.twdsl", "-i", "name=x", cwd=project).returncode == 0
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=project,
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    mistake(r, "twdsl: error: cannot write the output: No space left on device")


@pytest.mark.parametrize("args", [("compile",), ("graph",), ("run", "--no-state"),
                                  ("submit", "--state", "s.db")], ids=lambda a: a[0])
def test_an_empty_file_has_no_workflow(project: Path, args: tuple[str, ...]) -> None:
    (project / "empty.twdsl").write_text("")
    r = run(args[0], "empty.twdsl", *args[1:], cwd=project)
    mistake(r, "empty.twdsl: there is no workflow to compile in this file")
    assert run("check", "empty.twdsl", cwd=project).returncode == 0


@pytest.mark.parametrize("command", ["show", "watch", "resume", "retry", "pause", "cancel"])
def test_an_unknown_or_ambiguous_run_id(project: Path, command: str) -> None:
    """Exit 1 (docs/cli.md: no such run), the runs there are untouched."""
    for _ in range(2):
        assert run("run", "flow.twdsl", "-i", "name=x", cwd=project).returncode == 0
    r = run("runs", command, "nope", cwd=project)
    mistake(r, "no run 'nope' in", "`twdsl runs list` shows the runs", code=1)
    ids = [x["id"] for x in json.loads(run("runs", "list", "--format", "json",
                                            cwd=project).stdout)]
    r = run("runs", command, ids[0][:4], cwd=project)
    mistake(r, f"run id prefix '{ids[0][:4]}' is ambiguous", *ids, code=1)
    after = json.loads(run("runs", "list", "--format", "json", cwd=project).stdout)
    assert [(x["id"], x["status"]) for x in after] == [(i, "completed") for i in ids]


def test_a_tool_twdsl_table_in_a_file_not_named_pyproject(project: Path) -> None:
    (project / "settings.toml").write_text('[tool.twdsl.check]\nignore = ["TW501"]\n')
    r = run("check", "flow.twdsl", "--config", "settings.toml", cwd=project)
    mistake(r, "settings.toml: unknown table 'tool'",
            "[tool.twdsl] is read from a file named pyproject.toml")


def test_fires_of_a_workflow_without_a_schedule(project: Path) -> None:
    """As `schedules pause|resume` say it: a misspelt name was answered 'no fires'."""
    r = run("schedules", "fires", "Helo", "--state", "s.db", cwd=project)
    mistake(r, "workflow 'Helo' has no schedule", "`twdsl schedules` lists them", code=1)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_name_the_api_would_refuse(tmp_path: Path, name: str) -> None:
    """An empty --name (a shell variable left unset) was taken for the role; the API takes
    1 to 100 characters, and so does the command now."""
    r = run("token", "create", "--role", "viewer", "--name", name, "--state", "s.db",
            cwd=tmp_path)
    mistake(r, "'--name'", "give a name of 1 to 100 characters, not only blanks")
    assert r.stdout == ""  # no token was made
    listed = run("token", "list", "--format", "json", "--state", "s.db", cwd=tmp_path)
    assert (listed.returncode, json.loads(listed.stdout or "[]")) == (0, [])
