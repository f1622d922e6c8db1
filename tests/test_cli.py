"""The twdsl command line, run as a user runs it: a real subprocess, real files, exact output
and exit codes (docs/cli.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import BROKEN, PRETTY, UGLY, run

import twdsl


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.twdsl").write_text(PRETTY)
    (tmp_path / "broken.twdsl").write_text(BROKEN)
    (tmp_path / "ugly.twdsl").write_text(UGLY)
    return tmp_path


def test_version(files: Path) -> None:
    r = run("--version", cwd=files)
    assert (r.returncode, r.stdout) == (0, f"twdsl {twdsl.__version__}\n")


def test_check_clean_file(files: Path) -> None:
    r = run("check", "good.twdsl", cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "checked 1 file: no problems\n")


def test_check_text_output(files: Path) -> None:
    r = run("check", "broken.twdsl", cwd=files)
    assert r.returncode == 1
    assert r.stdout == (
        "broken.twdsl:5:3: error[TW111] expected '}' to close task 'build' opened at 3:3\n"
        "  5 |   task deploy {\n"
        "    |   ^^^^\n"
        "  note: the unclosed '{' is here at broken.twdsl:3:14\n"
        "broken.twdsl:6:11: error[TW110] unexpected '=' in task 'deploy'; fields are written "
        "'name: value'\n"
        '  6 |     agent = "Deployer"\n'
        "    |           ^\n"
        "  help: replace '=' with ':'\n")
    assert r.stderr == "checked 1 file: 2 errors\n"


def test_check_json_output(files: Path) -> None:
    r = run("check", "--format", "json", "broken.twdsl", "good.twdsl", cwd=files)
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert [(d["path"], d["line"], d["column"], d["end_line"], d["end_column"], d["severity"],
             d["code"]) for d in data] == [
        ("broken.twdsl", 5, 3, 5, 7, "error", "TW111"),
        ("broken.twdsl", 6, 11, 6, 12, "error", "TW110"),
    ]
    assert data[1]["fix"] == {"title": "replace '=' with ':'", "edits": [
        {"line": 6, "column": 11, "end_line": 6, "end_column": 12, "new_text": ":"}]}
    assert r.stderr == ""


def test_check_folder_recurses_and_skips_hidden(files: Path) -> None:
    (files / "sub").mkdir()
    (files / "sub" / "inner.twdsl").write_text(PRETTY)
    (files / ".hidden").mkdir()
    (files / ".hidden" / "x.twdsl").write_text("garbage {")
    (files / "notes.txt").write_text("not twdsl")
    r = run("check", "--format", "json", ".", cwd=files)
    assert sorted({d["path"] for d in json.loads(r.stdout)}) == ["broken.twdsl"]
    r = run("check", "sub", cwd=files)
    assert (r.returncode, r.stderr) == (0, "checked 1 file: no problems\n")


@pytest.mark.parametrize("args, message", [
    (("check", "missing.twdsl"), "twdsl: error: 'missing.twdsl' does not exist\n"),
    (("check", "empty"), "twdsl: error: no .twdsl files found in empty\n"),
    (("check", "latin1.twdsl"),
     "twdsl: error: 'latin1.twdsl' is not UTF-8 text (invalid byte at line 2); save it as UTF-8\n"),
    (("fmt", "-", "good.twdsl"), "twdsl: error: '-' (standard input) cannot be combined with "
                                 "paths\n"),
])
def test_usage_errors_exit_2_without_traceback(files: Path, args: tuple[str, ...],
                                               message: str) -> None:
    (files / "empty").mkdir()
    (files / "latin1.twdsl").write_bytes(b"workflow W {\n  description: \"caf\xe9\"\n}\n")
    r = run(*args, cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message)


def test_check_without_paths_is_a_usage_error(files: Path) -> None:
    r = run("check", cwd=files)
    assert r.returncode == 2 and "Missing argument 'PATHS...'" in r.stderr


def test_fmt_check_lists_files_and_changes_nothing(files: Path) -> None:
    r = run("fmt", "--check", "good.twdsl", "ugly.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (1, "would reformat ugly.twdsl\n")
    assert (files / "ugly.twdsl").read_text() == UGLY
    r = run("fmt", "--check", "good.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (0, "")


def test_fmt_diff(files: Path) -> None:
    r = run("fmt", "--diff", "ugly.twdsl", cwd=files)
    assert r.returncode == 1
    assert r.stdout.splitlines()[:3] == ["--- ugly.twdsl", "+++ ugly.twdsl (formatted)",
                                         "@@ -1,2 +1,6 @@"]
    assert (files / "ugly.twdsl").read_text() == UGLY


def test_fmt_in_place(files: Path) -> None:
    r = run("fmt", "ugly.twdsl", "good.twdsl", cwd=files)
    assert (r.returncode, r.stderr) == (0, "reformatted ugly.twdsl\n")
    assert (files / "ugly.twdsl").read_text() == PRETTY


def test_fmt_keeps_crlf_line_endings(files: Path) -> None:
    (files / "crlf.twdsl").write_bytes(UGLY.replace("\n", "\r\n").encode())
    r = run("fmt", "crlf.twdsl", cwd=files)
    assert r.returncode == 0
    assert (files / "crlf.twdsl").read_bytes() == PRETTY.replace("\n", "\r\n").encode()


def test_fmt_stdin(files: Path) -> None:
    r = run("fmt", "-", cwd=files, stdin=UGLY)
    assert (r.returncode, r.stdout, r.stderr) == (0, PRETTY, "")
    r = run("fmt", "--check", "-", cwd=files, stdin=UGLY)
    assert (r.returncode, r.stdout) == (1, "would reformat <stdin>\n")


def test_fmt_refuses_broken_file_and_leaves_it_alone(files: Path) -> None:
    r = run("fmt", "broken.twdsl", "ugly.twdsl", cwd=files)
    assert r.returncode == 2
    assert (files / "broken.twdsl").read_text() == BROKEN
    assert (files / "ugly.twdsl").read_text() == PRETTY  # the other file is still formatted
    assert r.stderr.splitlines()[-2:] == [
        "twdsl: error: cannot format broken.twdsl: it has syntax errors (fix them, then run "
        "twdsl fmt again)", "reformatted ugly.twdsl"]


def test_fmt_stdin_with_syntax_errors_passes_text_through(files: Path) -> None:
    r = run("fmt", "-", cwd=files, stdin=BROKEN)
    assert (r.returncode, r.stdout) == (2, BROKEN)


def test_examples_check_clean() -> None:
    """Every example checks without errors; the seed's verbatim example keeps the warnings its
    flaws deserve (an input never read, outputs never bound, a fallback naming no task); the
    corrected example beside it is clean."""
    root = Path(__file__).resolve().parent.parent
    r = run("check", "--format", "json", "examples", cwd=root)
    assert r.returncode == 0
    seed = "examples/create_full_stack_app.seed.twdsl"
    assert [(d["path"], d["line"], d["code"], d["severity"]) for d in json.loads(r.stdout)] == [
        (seed, 6, "TW504", "warning"), (seed, 16, "TW503", "warning"),
        (seed, 17, "TW503", "warning"), (seed, 18, "TW503", "warning"),
        (seed, 58, "TW216", "warning")]


def test_check_reads_the_nearest_configuration(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "w.twdsl").write_text(
        'workflow W {\n  input { n: number }\n  task a { agent: "A" }\n}\n')
    r = run("check", "--format", "json", "flows", cwd=tmp_path)
    assert [d["code"] for d in json.loads(r.stdout)] == ["TW501", "TW504"]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.twdsl.check]\nignore = ["unused-input"]\n[tool.twdsl.check.severity]\n'
        'TW501 = "error"\n')
    r = run("check", "--format", "json", "flows", cwd=tmp_path)
    assert r.returncode == 1
    assert [(d["code"], d["severity"]) for d in json.loads(r.stdout)] == [("TW501", "error")]
    (tmp_path / "other.toml").write_text('[check]\nignore = ["TW501", "TW504"]\n')
    r = run("check", "--config", "other.toml", "flows", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "checked 1 file: no problems\n")


def test_a_broken_configuration_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(PRETTY)
    (tmp_path / "twdsl.toml").write_text('[check.severity]\nTW301 = "off"\n')
    r = run("check", "w.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (
        f"twdsl: error: {tmp_path / 'twdsl.toml'}: check.severity.TW301: TW301 (type-mismatch) "
        "is a types error and cannot be downgraded; only lint rules and warnings can (an inline "
        "'// twdsl-ignore: CODE' silences one place)\n")
    r = run("check", "--config", "missing.toml", "w.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "twdsl: error: missing.toml: no such configuration "
                                           "file\n")


def test_files_are_checked_as_one_project(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "ops.twdsl").write_text(
        "export agent Deploy { input { target: string } output { url: url } }\n")
    (tmp_path / "main.twdsl").write_text(
        'import { Deploy } from "./lib/ops.twdsl"\n'
        'workflow W {\n  version: "1.0.0"\n  task d { agent: Deploy input: { target: 1 } }\n}\n')
    r = run("check", "main.twdsl", cwd=tmp_path)  # lib/ops.twdsl is read because it is imported
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == ("main.twdsl:4:43: error[TW301] input 'target' of agent "
                                        "'Deploy' expects string, and this is number")
