"""``twdsl compile``: real processes, exact outputs and exit codes (docs/cli.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cli_helpers import run

from twdsl.compiler import compile_source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "create_full_stack_app.twdsl"
PURE = """agent Lookup {
  input { q: string }
  output { hit: string }
  pure: true
}

workflow W {
  version: "1.0.0"
  task l1 { agent: Lookup input: { q: "a" } }
  task l2 { agent: Lookup input: { q: "b" } }
  if (true) {
    task t { agent: "T" }
  }
}
"""


def test_compile_to_stdout_is_the_api_output(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "app.twdsl")
    r = run("compile", "app.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    text = (tmp_path / "app.twdsl").read_text()
    assert r.stdout == compile_source(text, "app.twdsl").program.to_json()  # type: ignore[union-attr]
    assert json.loads(r.stdout)["optimization"] == 1


def test_output_file_and_levels(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(PURE)
    r = run("compile", "w.twdsl", "-o", "out.json", "-O0", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    ir = json.loads((tmp_path / "out.json").read_text())
    assert (ir["optimization"], ir["changes"]) == (0, [])
    assert sorted(ir["nodes"]) == ["block#1", "block#2", "if#1", "l1", "l2", "t"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_explain_lists_each_change_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(PURE)
    r = run("compile", "w.twdsl", "--explain", "-o", "out.json", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        "w.twdsl:11:3: [dead-branches] (if#1) this if always runs one branch (its condition "
        "is always true): the branch replaces it as 'block#2'",
        "w.twdsl:11:13: [merge-blocks] (block#2) this body block holds one statement: 't' "
        "takes its place",
        "w.twdsl:10:3: [parallelize] (l2) 'l2' no longer waits for 'l1': both agents are "
        "pure and neither reads the other (docs/language.md, Q2)",
    ]
    ir = json.loads((tmp_path / "out.json").read_text())
    assert ir["nodes"]["l2"]["after"] == []
    assert ir["nodes"]["t"]["after"] == ["l2", "l1"]
    r0 = run("compile", "w.twdsl", "--explain", "-O", "0", cwd=tmp_path)
    assert r0.stderr == "-O0: no optimizer pass ran\n"


def test_byte_identical_output(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "app.twdsl")
    a = run("compile", "app.twdsl", "-o", "a.json", cwd=tmp_path)
    b = run("compile", "app.twdsl", "-o", "b.json", cwd=tmp_path)
    assert a.returncode == b.returncode == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_errors_are_printed_like_check(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(
        'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" input: { x: b.result } }\n}\n')
    r = run("compile", "w.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (
        "w.twdsl:3:35: error[TW210] undefined name 'b'\n"
        "  3 |   task a { agent: \"A\" input: { x: b.result } }\n"
        "    |                                   ^\n"
        "w.twdsl: 1 error; nothing compiled\n")


def test_lowering_error_exit_1(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text('workflow W {\n  version: "1.0.0"\n  input { t: duration }\n'
                                      '  task a { agent: "A" timeout: t }\n}\n')
    r = run("compile", "w.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == ("w.twdsl:4:32: error[TW403] this setting must be a "
                                        "literal value (or a template parameter given one)")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    r = run("compile", "missing.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: cannot read 'missing.twdsl': No such file or directory\n")
    (tmp_path / "two.twdsl").write_text('workflow A { version: "1.0.0" task a { agent: "X" } }\n'
                                        'workflow B { version: "1.0.0" task b { agent: "X" } }\n')
    r = run("compile", "two.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: two.twdsl: several workflows (A, B); choose one with --workflow "
           "NAME\n")
    r = run("compile", "two.twdsl", "--workflow", "B", cwd=tmp_path)
    assert (r.returncode, json.loads(r.stdout)["workflow"]) == (0, "B")
    r = run("compile", "two.twdsl", "--workflow", "B", "-o", "no/such/dir/x.json", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("twdsl: error: cannot write 'no/such/dir/x.json': ")
    r = run("compile", cwd=tmp_path)
    assert r.returncode == 2 and "Missing argument 'FILE'" in r.stderr


def test_internal_error_exit_3(tmp_path: Path) -> None:
    """A pass that breaks an invariant is reported as a bug (a real process, with a pass
    that drops a node's parent injected through a sitecustomize on PYTHONPATH)."""
    (tmp_path / "w.twdsl").write_text(PURE)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "from twdsl.passes import Pass, registry\n"
        "def _bad(p):\n"
        "    p.nodes['l1'].after.append('nowhere')\n"
        "    return p, []\n"
        "registry.PASSES.append(Pass('bad', 1, _bad, 'breaks the IR'))\n")
    env = {**os.environ, "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}"}
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", "compile", "w.twdsl"],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 3
    assert r.stdout == ""
    assert r.stderr == (
        "twdsl: internal compiler error: the IR is invalid after the 'bad' pass (a bug in "
        "twdsl; please report it with the workflow):\n"
        "  'l1' waits for 'nowhere', which is not its sibling\n")
