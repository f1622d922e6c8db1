"""``twdsl check --format sarif|github``, ``--explain``, ``python -m twdsl.rulesdoc`` and the
pre-commit hooks, run as a user or CI runs them: a real subprocess, real files, exact output
and exit codes (docs/cli.md, docs/ci.md)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from cli_helpers import BROKEN, PRETTY, UGLY, run

import twdsl
from twdsl.codes import CODES, render_markdown

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "broken.twdsl").write_text(BROKEN)
    (tmp_path / "good.twdsl").write_text(PRETTY)
    (tmp_path / "ugly.twdsl").write_text(UGLY)
    return tmp_path


def _fingerprint(code: str, path: str, line: str) -> str:
    return hashlib.sha256(f"{code}\0{path}\0{line}".encode()).hexdigest()[:16] + ":1"


def _location(line: int, col: int, end_col: int) -> dict[str, object]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": "flows/broken.twdsl", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line, "startColumn": col, "endLine": line, "endColumn": end_col}}}


# ------------------------------------------------------------------------ --format sarif
def test_sarif_output(files: Path) -> None:
    r = run("check", "--format", "sarif", ".", cwd=files)
    assert (r.returncode, r.stderr) == (1, "")
    log = json.loads(r.stdout)
    assert (log["$schema"], log["version"]) == ("https://json.schemastore.org/sarif-2.1.0.json",
                                                "2.1.0")
    [run_] = log["runs"]
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("twdsl", twdsl.__version__)
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == list(CODES)
    assert run_["originalUriBaseIds"] == {
        "%SRCROOT%": {"uri": Path(os.path.realpath(files)).as_uri() + "/"}}
    assert run_["columnKind"] == "unicodeCodePoints"
    assert run_["results"] == [
        {
            "ruleId": "TW111",
            "ruleIndex": ids.index("TW111"),
            "level": "error",
            "message": {"text": "expected '}' to close task 'build' opened at 3:3"},
            "locations": [_location(5, 3, 7)],
            "relatedLocations": [{"id": 1, **_location(3, 14, 15),
                                  "message": {"text": "the unclosed '{' is here"}}],
            "partialFingerprints": {"twdslLineHash/v1": _fingerprint(
                "TW111", "flows/broken.twdsl", "task deploy {")},
        },
        {
            "ruleId": "TW110",
            "ruleIndex": ids.index("TW110"),
            "level": "error",
            "message": {
                "text": "unexpected '=' in task 'deploy'; fields are written 'name: value'"},
            "locations": [_location(6, 11, 12)],
            "partialFingerprints": {"twdslLineHash/v1": _fingerprint(
                "TW110", "flows/broken.twdsl", 'agent = "Deployer"')},
            "fixes": [{
                "description": {"text": "replace '=' with ':'"},
                "artifactChanges": [{
                    "artifactLocation": {"uri": "flows/broken.twdsl", "uriBaseId": "%SRCROOT%"},
                    "replacements": [{
                        "deletedRegion": {"startLine": 6, "startColumn": 11, "endLine": 6,
                                          "endColumn": 12},
                        "insertedContent": {"text": ":"}}],
                }],
            }],
        },
    ]


def test_sarif_for_a_clean_run_has_rules_and_no_results(files: Path) -> None:
    r = run("check", "--format", "sarif", "good.twdsl", cwd=files)
    assert (r.returncode, r.stderr) == (0, "")
    [run_] = json.loads(r.stdout)["runs"]
    assert run_["results"] == []
    assert len(run_["tool"]["driver"]["rules"]) == len(CODES)


def test_sarif_paths_are_relative_to_the_current_folder(files: Path) -> None:
    r = run("check", "--format", "sarif", "broken.twdsl", cwd=files / "flows")
    [run_] = json.loads(r.stdout)["runs"]
    assert run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "broken.twdsl", "uriBaseId": "%SRCROOT%"}


# ------------------------------------------------------------------------ --format github
def test_github_output(files: Path) -> None:
    r = run("check", "--format", "github", "good.twdsl", "flows", cwd=files)
    assert (r.returncode, r.stderr) == (1, "")
    assert r.stdout == (
        "::error file=flows/broken.twdsl,line=5,col=3,endLine=5,endColumn=7,title=twdsl TW111::"
        "expected '}' to close task 'build' opened at 3:3%0Anote: the unclosed '{' is here at "
        "line 3\n"
        "::error file=flows/broken.twdsl,line=6,col=11,endLine=6,endColumn=12,"
        "title=twdsl TW110::unexpected '=' in task 'deploy'; fields are written 'name: value'"
        "%0Ahelp: replace '=' with ':'\n")


def test_warnings_are_github_warnings_and_fail_only_with_strict(files: Path) -> None:
    (files / "warn.twdsl").write_text(
        'workflow W { version: "1.0.0" task a { agent: "A" on_error: { fallback: skipTests } } }\n')
    r = run("check", "--format", "github", "warn.twdsl", cwd=files)
    assert r.returncode == 0
    head, _, message = r.stdout.partition("::fallback ")
    assert head == ("::warning file=warn.twdsl,line=1,col=73,endLine=1,endColumn=82,"
                    "title=twdsl TW216")
    assert message.startswith("'skipTests'")
    r = run("check", "--format", "github", "--strict", "warn.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (1, head + "::fallback " + message)
    r = run("check", "--format", "sarif", "warn.twdsl", cwd=files)
    [result] = json.loads(r.stdout)["runs"][0]["results"]
    assert (r.returncode, result["ruleId"], result["level"]) == (0, "TW216", "warning")


def test_github_output_for_a_clean_run_is_empty(files: Path) -> None:
    r = run("check", "--format", "github", "good.twdsl", cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_unknown_format_is_a_usage_error(files: Path) -> None:
    r = run("check", "--format", "xml", "good.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (2, "")
    assert "'xml' is not one of 'text', 'json', 'sarif', 'github'" in r.stderr


# ------------------------------------------------------------------------ --explain
EXPLAIN_TW112 = """TW112 unmatched-closer
  stage: syntax
  default severity: error

A '}', ')' or ']' with nothing open to close.

Bad (reports TW112):

    workflow W { version: "1.0.0" }}

Good:

    workflow W { version: "1.0.0" }
"""


@pytest.mark.parametrize("query", ["TW112", "tw112", "unmatched-closer"])
def test_explain(files: Path, query: str) -> None:
    r = run("check", "--explain", query, cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (0, EXPLAIN_TW112, "")


@pytest.mark.parametrize("query, message", [
    ("TW11", "unknown diagnostic code 'TW11'; did you mean TW110 (unexpected-token), "
             "TW111 (unclosed-bracket) or TW112 (unmatched-closer)?"),
    ("unclosed-braket", "unknown diagnostic code 'unclosed-braket'; did you mean TW111 "
                        "(unclosed-bracket)?"),
    ("nonsense", "unknown diagnostic code 'nonsense'; the codes are listed in docs/rules.md"),
])
def test_explain_unknown_code_exits_2(files: Path, query: str, message: str) -> None:
    r = run("check", "--explain", query, cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"twdsl: error: {message}\n")


def test_explain_takes_no_paths(files: Path) -> None:
    r = run("check", "--explain", "TW112", "good.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.endswith("Error: --explain takes no PATHS\n")


def test_check_without_paths_or_explain_is_still_a_usage_error(files: Path) -> None:
    r = run("check", "--format", "sarif", cwd=files)
    assert (r.returncode, r.stdout) == (2, "")
    lines = r.stderr.splitlines()
    assert lines[0].endswith(" check [OPTIONS] PATHS...")  # the program name is python -m …
    assert lines[-1] == "Error: Missing argument 'PATHS...'."


# ------------------------------------------------------------------------ python -m twdsl.rulesdoc
def test_codes_module_prints_rules_md(files: Path) -> None:
    r = run("--markdown", cwd=files, module="twdsl.rulesdoc")
    assert (r.returncode, r.stdout) == (0, render_markdown())
    r = run(cwd=files, module="twdsl.rulesdoc")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "usage: python -m twdsl.rulesdoc --markdown > docs/rules.md\n"


# ------------------------------------------------------------------------ pre-commit hooks
def _load_hooks(text: str) -> list[dict[str, str]]:
    """The hooks of .pre-commit-hooks.yaml: a list of flat mappings of plain scalars (the
    only YAML it uses; PyYAML is not a dependency)."""
    hooks: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"(- |  )([a-z_]+): (.+)", line)
        assert m, f"unexpected line in .pre-commit-hooks.yaml: {line!r}"
        if m.group(1) == "- ":
            hooks.append({})
        value = m.group(3)
        assert not value.startswith(("'", '"', "[", "{", "|", ">")) and " #" not in value
        hooks[-1][m.group(2)] = value
    return hooks


HOOKS = _load_hooks((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_pre_commit_hooks_are_declared() -> None:
    assert [(h["id"], h["entry"], h["language"], h["files"]) for h in HOOKS] == [
        ("twdsl-check", "twdsl check", "python", r"\.twdsl$"),
        ("twdsl-fmt", "twdsl fmt --check", "python", r"\.twdsl$"),
    ]
    assert all(h.keys() == {"id", "name", "description", "entry", "language", "files"}
               for h in HOOKS)
    files = re.compile(HOOKS[0]["files"])
    assert [bool(files.search(p)) for p in ("a/w.twdsl", "w.twdsl.bak", "w.twdslx")] == [
        True, False, False]


def test_pre_commit_hooks_match_pyyaml_when_installed() -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()) == HOOKS


@pytest.mark.parametrize("hook, filenames, exit_code", [
    ("twdsl-check", ["good.twdsl", "ugly.twdsl"], 0),
    ("twdsl-check", ["good.twdsl", "flows/broken.twdsl"], 1),
    ("twdsl-fmt", ["good.twdsl"], 0),
    ("twdsl-fmt", ["good.twdsl", "ugly.twdsl"], 1),
])
def test_pre_commit_hook_entries_run(files: Path, hook: str, filenames: list[str],
                                     exit_code: int) -> None:
    """Each entry is a real twdsl command, run as pre-commit runs it: entry + file names."""
    [entry] = [h["entry"] for h in HOOKS if h["id"] == hook]
    program, *args = entry.split()
    assert program == "twdsl"
    assert run(*args, "--help", cwd=files).returncode == 0
    r = run(*args, *filenames, cwd=files)
    assert r.returncode == exit_code, r.stderr


# ------------------------------------------------------------------------ docs/ci.md
def _ci_commands() -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    found = re.findall(r"^\s*(?:run|entry): (twdsl [^>|\n]*?)\s*(?:>.*)?$", text, re.M)
    return list(dict.fromkeys(found))


def test_ci_doc_commands_are_real(files: Path) -> None:
    """Every twdsl command in docs/ci.md runs and finds what is there: exit 1 (findings),
    never 2 (a usage error such as an unknown option)."""
    (files / "flows" / "broken.twdsl").unlink()
    (files / "flows" / "error.twdsl").write_text(PRETTY.replace("version", "versoin"))
    commands = _ci_commands()
    assert commands == ["twdsl check --format github .", "twdsl check --format sarif .",
                        "twdsl fmt --check .", "twdsl check", "twdsl fmt --check"]
    for command in commands:
        args = command.split()[1:]
        if args[-1] != ".":
            args.append(".")
        r = run(*args, cwd=files)
        assert r.returncode == 1, (command, r.stderr)
