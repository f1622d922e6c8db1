"""``twdsl diff``: each kind of change, classified and placed exactly (docs/versions.md), the
three output formats, and the CLI on real files and on revisions of a real git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cli_helpers import run
from twdsl.compiler import compile_source
from twdsl.ir.model import TypeRef
from twdsl.versions import render
from twdsl.versions.diff import Impact, covers, diff_programs, diff_workflows
from twdsl.versions.sources import Source, compile_version


def _nothing(_: str) -> None:
    return None


def _snapshot(text: str, path: str):  # type: ignore[no-untyped-def]
    return compile_version(Source(path, path, text, _nothing))


def diff_lines(old: str, new: str) -> list[str]:
    o, n = _snapshot(old, "old.twdsl"), _snapshot(new, "new.twdsl")
    diffs = diff_workflows(o.programs, n.programs, o.locations, n.locations)
    return render.to_text(diffs, render.Labels("old.twdsl", "new.twdsl"))


def wf(body: str, head: str = "") -> str:
    return f'{head}workflow W {{\n  version: "1.0.0"\n{body}}}\n'


T = '  task t { agent: "A" input: { a: a } }\n'
SIG_A = 'agent A { input { n: number } output { x: string } }\n'
SIG_AB = SIG_A + 'agent B { input { n: number } output { x: string, y: number? } }\n'
TASK_A = '  task a { agent: A input: { n: 1 } }\n'

CASES = [
    ("input-added-required",
     wf("  input { a: string }\n" + T), wf("  input { a: string, b: number }\n" + T),
     ["new.twdsl:3:22: breaking[input-added] input 'b' added without a default: every caller "
      "must now give it"]),
    ("input-added-default",
     wf("  input { a: string }\n" + T), wf("  input { a: string, b: number = 3 }\n" + T),
     ["new.twdsl:3:22: compatible[input-added] input 'b' added (with a default)"]),
    ("input-added-optional",
     wf("  input { a: string }\n" + T), wf("  input { a: string, b: number? }\n" + T),
     ["new.twdsl:3:22: compatible[input-added] input 'b' added (optional)"]),
    ("input-removed",
     wf("  input { a: string, b: number }\n" + T), wf("  input { a: string }\n" + T),
     ["old.twdsl:3:22: breaking[input-removed] input 'b' removed: a caller that gives it is "
      "refused"]),
    ("input-type-narrowed",
     wf("  input { a: string }\n" + T), wf("  input { a: url }\n" + T),
     ["new.twdsl:3:11: breaking[input-type-narrowed] input 'a' narrowed from string to url: a "
      "value a caller gives today may be refused"]),
    ("input-type-widened",
     wf("  input { a: number }\n" + T), wf("  input { a: number? }\n" + T),
     ["new.twdsl:3:11: compatible[input-type-widened] input 'a' widened from number to "
      "number?"]),
    ("input-type-changed",
     wf("  input { a: string }\n" + T), wf("  input { a: number }\n" + T),
     ["new.twdsl:3:11: breaking[input-type-changed] input 'a' changed type from string to "
      "number"]),
    ("input-record-widened",
     wf("  input { a: { x: number, y: string } }\n" + T),
     wf("  input { a: { x: number, y: string?, z: boolean? } }\n" + T),
     ["new.twdsl:3:11: compatible[input-type-widened] input 'a' widened from { x: number, y: "
      "string } to { x: number, y: string?, z: boolean? }"]),
    ("input-default-added",
     wf("  input { a: string }\n" + T), wf('  input { a: string = "x" }\n' + T),
     ["new.twdsl:3:11: compatible[input-default-added] input 'a' now has a default (\"x\")"]),
    ("input-default-removed",
     wf('  input { a: string = "x" }\n' + T), wf("  input { a: string }\n" + T),
     ["new.twdsl:3:11: breaking[input-default-removed] input 'a' lost its default (\"x\"): a "
      "caller that leaves it out is refused"]),
    ("input-default-removed-optional",
     wf('  input { a: string? = "x" }\n' + T), wf("  input { a: string? }\n" + T),
     ["new.twdsl:3:11: compatible[input-default-removed] input 'a' lost its default (\"x\"): "
      "left out, it is null"]),
    ("input-default-changed",
     wf('  input { a: string = "x" }\n' + T), wf('  input { a: string = "y" }\n' + T),
     ["new.twdsl:3:11: compatible[input-default-changed] default of input 'a' \"x\" → \"y\""]),
    ("output-removed",
     wf('  task t { agent: "A" }\n  output { r: any = t.result, s: string = "s" }\n'),
     wf('  task t { agent: "A" }\n  output { r: any = t.result }\n'),
     ["old.twdsl:4:31: breaking[output-removed] output 's' removed: a caller that reads it "
      "finds nothing"]),
    ("output-added",
     wf('  task t { agent: "A" }\n  output { r: any = t.result }\n'),
     wf('  task t { agent: "A" }\n  output { r: any = t.result, s: string = "s" }\n'),
     ["new.twdsl:4:31: compatible[output-added] output 's' added"]),
    ("output-type-narrowed",
     wf('  output { s: string? = "s" }\n  task t { agent: "A" }\n'),
     wf('  output { s: string = "s" }\n  task t { agent: "A" }\n'),
     ["new.twdsl:3:12: compatible[output-type-narrowed] output 's' narrowed from string? to "
      "string"]),
    ("output-type-changed",
     wf('  output { s: string = "s" }\n  task t { agent: "A" }\n'),
     wf('  output { s: string? = "s" }\n  task t { agent: "A" }\n'),
     ["new.twdsl:3:12: breaking[output-type-changed] output 's' changed type from string to "
      "string?: a caller expecting string may get another value"]),
    ("task-removed",
     wf('  task a { agent: "A" }\n  task b { agent: "B" }\n'), wf('  task a { agent: "A" }\n'),
     ["old.twdsl:4:3: breaking[task-removed] task 'b' removed: a run in flight may have run it "
      "or be waiting for it"]),
    ("task-added",
     wf('  task a { agent: "A" }\n'), wf('  task a { agent: "A" }\n  task b { agent: "B" }\n'),
     ["new.twdsl:4:3: compatible[task-added] task 'b' added"]),
    ("task-renamed",
     wf('  task a { agent: "A" input: { n: 1 } }\n'),
     wf('  task first { agent: "A" input: { n: 1 } }\n'),
     ["new.twdsl:3:3: breaking[task-renamed] task 'a' renamed to 'first': a run in flight "
      "finds no result under the new name and runs it again"]),
    ("task-agent-changed-untyped",
     wf('  task a { agent: "A" }\n'), wf('  task a { agent: "B" }\n'),
     ["new.twdsl:3:3: breaking[task-agent-changed] task 'a' now calls agent 'B' (was 'A'): a "
      "result recorded by a run in flight may not fit what reads it"]),
    ("task-agent-changed-typed",
     wf(TASK_A, SIG_AB), wf(TASK_A.replace("agent: A", "agent: B"), SIG_AB),
     ["new.twdsl:5:3: compatible[task-agent-changed] task 'a' now calls agent 'B' (was 'A')"]),
    ("agent-output-changed",
     wf(TASK_A, SIG_A), wf(TASK_A, SIG_A.replace("x: string", "x: number")),
     ["new.twdsl:1:7: breaking[agent-output-changed] output of agent 'A' changed from { x: "
      "string } to { x: number }: a result recorded by a run in flight may not fit it"]),
    ("agent-input-changed",
     wf(TASK_A, SIG_A), wf(TASK_A, SIG_A.replace("n: number", "n: number, m: string?")),
     ["new.twdsl:1:7: compatible[agent-input-changed] input of agent 'A' changed from { n: "
      "number } to { n: number, m: string? }"]),
    ("task-retry-changed",
     wf('  task a { agent: "A" retry: 2 }\n'),
     wf('  task a { agent: "A" retry: { attempts: 2, backoff: 3, on: [timeout] } }\n'),
     ["new.twdsl:3:3: compatible[task-retry-changed] retry of task 'a': backoff 2 → 3, on "
      "[timeout, agent, transient] → [timeout]"]),
    ("task-retry-added",
     wf('  task a { agent: "A" }\n'), wf('  task a { agent: "A" retry: 3 }\n'),
     ["new.twdsl:3:3: compatible[task-retry-changed] retry of task 'a': attempts 0 → 3"]),
    ("workflow-retry-reaches-tasks-without-their-own",
     wf('  task a { agent: "A" }\n  task b { agent: "B" retry: 1 }\n'),
     wf('  retry: 2\n  task a { agent: "A" }\n  task b { agent: "B" retry: 1 }\n'),
     ["new.twdsl:4:3: compatible[task-retry-changed] retry of task 'a': attempts 0 → 2"]),
    ("task-timeout-changed",
     wf('  task a { agent: "A" timeout: 30s }\n'), wf('  task a { agent: "A" timeout: 1m30s }\n'),
     ["new.twdsl:3:3: compatible[task-timeout-changed] timeout of task 'a' 30s → 1m30s"]),
    ("task-timeout-added",
     wf('  task a { agent: "A" }\n'), wf('  task a { agent: "A" timeout: 500ms }\n'),
     ["new.twdsl:3:3: compatible[task-timeout-changed] timeout of task 'a' none → 500ms"]),
    ("workflow-timeout-changed",
     wf('  timeout: 10m\n  task a { agent: "A" }\n'), wf('  timeout: 1h\n  task a { agent: "A" }\n'),
     ["new.twdsl:3:3: compatible[workflow-timeout-changed] timeout of the workflow 10m → 1h"]),
    ("task-waits-more",
     wf('  parallel {\n    task a { agent: "A" }\n    task b { agent: "B" }\n  }\n'),
     wf('  parallel {\n    task a { agent: "A" }\n    task b { agent: "B" depends: [a] }\n  }\n'),
     ["new.twdsl:5:5: compatible[task-waits-more] task 'b' now waits for 'a'"]),
    ("task-waits-less",
     wf('  sequence {\n    task a { agent: "A" }\n    task b { agent: "B" }\n  }\n'),
     wf('  parallel {\n    task a { agent: "A" }\n    task b { agent: "B" }\n  }\n'),
     ["new.twdsl:5:5: compatible[task-waits-less] task 'b' no longer waits for 'a'"]),
    ("waits-through-blocks",
     wf('  task z { agent: "Z" }\n  sequence {\n    task a { agent: "A" }\n'
        '    task b { agent: "B" }\n  }\n'),
     wf('  sequence {\n    task a { agent: "A" }\n    task b { agent: "B" }\n  }\n'
        '  task z { agent: "Z" }\n'),
     ["new.twdsl:4:5: compatible[task-waits-less] task 'a' no longer waits for 'z'",
      "new.twdsl:5:5: compatible[task-waits-less] task 'b' no longer waits for 'z'",
      "new.twdsl:7:3: compatible[task-waits-more] task 'z' now waits for 'a', 'b'"]),
    ("task-moved",
     wf('  input { xs: array<number> }\n  task a { agent: "A" }\n'
        '  foreach x in xs { task b { agent: "B" input: { x: x } } }\n'),
     wf('  input { xs: array<number> }\n  foreach x in xs {\n    task a { agent: "A" }\n'
        '    task b { agent: "B" input: { x: x } }\n  }\n'),
     ["new.twdsl:5:5: breaking[task-moved] task 'a' moved from outside any loop to 'foreach x': "
      "a run in flight records its results per loop iteration, and cannot reuse them"]),
    ("workflow-removed-and-added",
     'workflow A {\n  version: "1.0.0"\n  task a { agent: "A" }\n}\n',
     'workflow B {\n  version: "1.0.0"\n  task a { agent: "A" }\n}\n',
     ["old.twdsl:1:10: breaking[workflow-removed] workflow 'A' removed: its callers and its runs "
      "in flight have nothing left to run",
      "new.twdsl:1:10: compatible[workflow-added] workflow 'B' added"]),
    ("nothing-that-matters",
     wf("  input { a: string }\n" + T),
     wf('  // a comment, a description and a task input changed: nothing a caller or a run sees\n'
        '  description: "d"\n  input { a: string }\n  task t { agent: "A" input: { a: a + "!" } }\n'),
     []),
]


@pytest.mark.parametrize("old, new, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_kind_of_change(old: str, new: str, expected: list[str]) -> None:
    assert diff_lines(old, new) == expected


def test_the_table_in_the_docs_lists_every_kind_and_only_those() -> None:
    source = (Path(__file__).parent.parent / "twdsl" / "versions" / "diff.py").read_text()
    import re

    made = set(re.findall(r'"((?:workflow|input|output|agent|task)-[a-z-]+)"', source))
    doc = (Path(__file__).parent.parent / "docs" / "versions.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)` \| (?:breaking|compatible) \|", doc, re.M))
    tested = {line.split("[")[1].split("]")[0] for c in CASES for line in c[3]}
    assert documented == made
    assert tested == made


def test_covers_reads_types_as_the_values_they_take() -> None:
    def t(kind: str, of: TypeRef | None = None, **fields: TypeRef) -> TypeRef:
        return TypeRef(kind=kind, of=of, fields=fields or None)

    s, n, u = t("string"), t("number"), t("url")
    assert covers(u, s) and not covers(s, u)
    assert covers(n, t("duration")) and not covers(t("duration"), n)
    assert covers(t("null"), t("optional", n)) and not covers(t("optional", n), n)
    assert covers(t("record", a=n), t("object")) and not covers(t("object"), t("record", a=n))
    assert covers(t("array", u), t("array", s)) and not covers(t("array", s), t("array", u))
    assert covers(t("record", a=n, b=s), t("record", a=n, c=t("optional", s)))
    assert not covers(t("record", b=s), t("record", a=n))
    assert covers(s, t("any")) and not covers(t("any"), s) and covers(None, None)


def test_the_comparison_is_pure_and_deterministic() -> None:
    old = compile_source(wf('  task a { agent: "A" retry: 2 }\n  task b { agent: "B" }\n'),
                         "o.twdsl", optimize=0).program
    new = compile_source(wf('  task b { agent: "B" timeout: 1s }\n  task a { agent: "A" }\n'),
                         "n.twdsl", optimize=0).program
    assert old is not None and new is not None
    before = (old.to_json(), new.to_json())
    first = diff_programs(old, new)
    assert first == diff_programs(old, new)
    assert (old.to_json(), new.to_json()) == before
    assert [(c.kind, c.impact, c.subject, c.message) for c in first] == [
        ("task-timeout-changed", Impact.COMPATIBLE, "b", "timeout of task 'b' none → 1s"),
        ("task-waits-less", Impact.COMPATIBLE, "b", "task 'b' no longer waits for 'a'"),
        ("task-retry-changed", Impact.COMPATIBLE, "a", "retry of task 'a': attempts 2 → 0"),
        ("task-waits-more", Impact.COMPATIBLE, "a", "task 'a' now waits for 'b'")]


# ------------------------------------------------------------------------ the CLI

OLD = wf('  input { a: string, b: number }\n  task t { agent: "A" input: { a: a, b: b } }\n'
         '  output { r: any = t.result }\n')
NEW = wf('  input { a: string, c: boolean = true }\n'
         '  task t { agent: "A" input: { a: a, c: c } timeout: 1m }\n'
         '  output { r: any = t.result }\n')


@pytest.fixture()
def pair(tmp_path: Path) -> Path:
    (tmp_path / "old.twdsl").write_text(OLD)
    (tmp_path / "new.twdsl").write_text(NEW)
    return tmp_path


def test_cli_text_exit_1_on_a_breaking_change(pair: Path) -> None:
    r = run("diff", "old.twdsl", "new.twdsl", cwd=pair)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "old.twdsl:3:22: breaking[input-removed] input 'b' removed: a caller that gives it is "
        "refused",
        "new.twdsl:3:22: compatible[input-added] input 'c' added (with a default)",
        "new.twdsl:4:3: compatible[task-timeout-changed] timeout of task 't' none → 1m"]
    assert r.stderr == ("note: workflow 'W': version 1.0.0 → 1.0.0 is too small: a breaking "
                        "change needs a major bump, to 2.0.0\n"
                        "1 breaking change, 2 compatible changes\n")


def test_cli_exit_0_for_compatible_changes_and_for_none(pair: Path) -> None:
    r = run("diff", "new.twdsl", "new.twdsl", cwd=pair)
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "", "no changes that matter to callers or to runs in flight\n")
    (pair / "newer.twdsl").write_text(NEW.replace('"1.0.0"', '"1.1.0"').replace("1m", "2m"))
    r = run("diff", "new.twdsl", "newer.twdsl", cwd=pair)
    assert r.returncode == 0
    assert r.stdout == ("newer.twdsl:4:3: compatible[task-timeout-changed] timeout of task 't' "
                        "1m → 2m\n")
    assert r.stderr == "0 breaking changes, 1 compatible change\n"


def test_cli_json_has_the_documented_shape(pair: Path) -> None:
    r = run("diff", "old.twdsl", "new.twdsl", "--format", "json", cwd=pair)
    assert r.returncode == 1 and r.stderr == ""
    assert json.loads(r.stdout) == {
        "format": 1, "old": "old.twdsl", "new": "new.twdsl", "breaking": 1, "compatible": 2,
        "workflows": [{"name": "W", "status": "changed", "old_version": "1.0.0",
                       "new_version": "1.0.0", "breaking": 1, "compatible": 2,
                       "bump_needed": "major", "version_ok": False,
                       "suggested_version": "2.0.0"}],
        "changes": [
            {"workflow": "W", "kind": "input-removed", "class": "breaking", "subject": "b",
             "message": "input 'b' removed: a caller that gives it is refused",
             "old": "number", "new": None,
             "location": {"side": "old", "path": "old.twdsl", "line": 3, "column": 22,
                          "end_line": 3, "end_column": 31}},
            {"workflow": "W", "kind": "input-added", "class": "compatible", "subject": "c",
             "message": "input 'c' added (with a default)", "old": None, "new": "boolean",
             "location": {"side": "new", "path": "new.twdsl", "line": 3, "column": 22,
                          "end_line": 3, "end_column": 39}},
            {"workflow": "W", "kind": "task-timeout-changed", "class": "compatible",
             "subject": "t", "message": "timeout of task 't' none → 1m", "old": "none",
             "new": "1m",
             "location": {"side": "new", "path": "new.twdsl", "line": 4, "column": 3,
                          "end_line": 4, "end_column": 58}}]}
    # the example of docs/cli.md has the same shape: the same keys at every level
    cli = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    section = cli[cli.index("## `twdsl diff OLD NEW`"):]
    example = json.loads(section[section.index("```json\n") + 8:section.index("\n```\n")])

    def shape(v: object) -> object:
        if isinstance(v, dict):
            return {k: shape(x) for k, x in v.items()}
        if isinstance(v, list):
            return [shape(v[0])] if v else []
        return None

    assert shape(example) == shape(json.loads(r.stdout))
    for key in shape(example["workflows"][0]) | shape(example["changes"][0]):  # type: ignore
        assert f"`{key}`" in section, key


def test_cli_markdown_for_a_pull_request(pair: Path) -> None:
    (pair / "new.twdsl").write_text(NEW.replace("1.0.0", "2.0.0"))
    r = run("diff", "old.twdsl", "new.twdsl", "--format", "markdown", cwd=pair)
    assert (r.returncode, r.stderr) == (1, "")
    assert r.stdout == (
        ":x: **twdsl diff** `old.twdsl` → `new.twdsl`: 1 breaking change, 2 compatible changes\n"
        "\n"
        "| class | change | where | what |\n"
        "| --- | --- | --- | --- |\n"
        "| **breaking** | `input-removed` | `old.twdsl:3:22` | input 'b' removed: a caller that "
        "gives it is refused |\n"
        "| compatible | `input-added` | `new.twdsl:3:22` | input 'c' added (with a default) |\n"
        "| compatible | `task-timeout-changed` | `new.twdsl:4:3` | timeout of task 't' none → "
        "1m |\n")
    r = run("diff", "new.twdsl", "new.twdsl", "--format", "markdown", cwd=pair)
    assert (r.returncode, r.stdout) == (
        0, ":white_check_mark: **twdsl diff** `new.twdsl` → `new.twdsl`: no changes that matter "
           "to callers or to runs in flight\n")


def test_markdown_cells_escape_pipes_and_backticks() -> None:
    assert render._cell("a | b") == "a \\| b"
    assert render._code("x`y|z") == "``x`y\\|z``"


def test_several_workflows_are_paired_by_name_and_one_can_be_chosen(tmp_path: Path) -> None:
    two = ('workflow A {\n  version: "1.0.0"\n  task a { agent: "A" }\n}\n'
           'workflow B {\n  version: "1.0.0"\n  task b { agent: "B" }\n}\n')
    (tmp_path / "old.twdsl").write_text(two)
    (tmp_path / "new.twdsl").write_text(two.replace('agent: "B" }', 'agent: "B" timeout: 1s }')
                                        .replace("workflow A", "workflow C"))
    r = run("diff", "old.twdsl", "new.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "old.twdsl:1:10: breaking[workflow-removed] workflow 'A' removed: its callers and its "
        "runs in flight have nothing left to run",
        "new.twdsl:7:3: compatible[task-timeout-changed] timeout of task 'b' none → 1s",
        "new.twdsl:1:10: compatible[workflow-added] workflow 'C' added"]
    r = run("diff", "old.twdsl", "new.twdsl", "--workflow", "B", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (
        0, "new.twdsl:7:3: compatible[task-timeout-changed] timeout of task 'b' none → 1s\n")
    r = run("diff", "old.twdsl", "new.twdsl", "--workflow", "A", cwd=tmp_path)
    assert r.returncode == 1 and "breaking[workflow-removed]" in r.stdout
    r = run("diff", "old.twdsl", "new.twdsl", "--workflow", "Nope", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "twdsl: error: no workflow named 'Nope' in old.twdsl or in new.twdsl\n"


def test_a_compiled_program_is_a_version_too(pair: Path) -> None:
    r = run("compile", "old.twdsl", "-O0", "-o", "old.json", cwd=pair)
    assert r.returncode == 0, r.stderr
    r = run("diff", "old.json", "new.twdsl", cwd=pair)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == ("old.twdsl:3:22: breaking[input-removed] input 'b' "
                                        "removed: a caller that gives it is refused")
    (pair / "bad.json").write_text('{"workflow": 3}')
    r = run("diff", "bad.json", "new.twdsl", cwd=pair)
    assert r.returncode == 2
    assert r.stderr.startswith("twdsl: error: 'bad.json' is not a compiled TWDSL program: ")


def test_usage_errors_exit_2_with_one_line(pair: Path) -> None:
    r = run("diff", "nope.twdsl", "new.twdsl", cwd=pair)
    assert (r.returncode, r.stderr) == (2, "twdsl: error: 'nope.twdsl' does not exist (a git "
                                           "revision is written REV:path)\n")
    (pair / "broken.twdsl").write_text('workflow W {\n  version: "1.0.0"\n  task a { agent: "A" '
                                       'input: { x: nope } }\n}\n')
    r = run("diff", "old.twdsl", "broken.twdsl", cwd=pair)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "broken.twdsl:3:35: error[TW210] undefined name 'nope'"
    assert r.stderr.splitlines()[-1] == ("twdsl: error: 'broken.twdsl' has 1 error; fix it to "
                                         "compare it")
    r = run("diff", "HEAD:old.twdsl", "new.twdsl", cwd=pair)  # pair is in no repository
    assert r.returncode == 2
    assert r.stderr == (f"twdsl: error: 'HEAD:old.twdsl' names a git revision, and the folder "
                        f"{pair.resolve()} is not in a git repository\n")
    r = run("diff", "old.twdsl", "new.twdsl", "--format", "yaml", cwd=pair)
    assert r.returncode == 2 and "Traceback" not in r.stderr


# ------------------------------------------------------------------------ git revisions

def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:  # pragma: no cover - git is on every machine we test on
        pytest.fail("git is needed for these tests")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "ops.twdsl").write_text(
        "export agent Deploy { input { target: string } output { url: string } }\n")
    (tmp_path / "flows" / "w.twdsl").write_text(
        'import { Deploy } from "./ops.twdsl"\n'
        'workflow W {\n  version: "1.0.0"\n  input { target: string }\n'
        '  task d { agent: Deploy input: { target: target } }\n'
        '  output { url: string = d.result.url }\n}\n')
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


def test_a_git_revision_with_its_imports_read_at_that_revision(repo: Path) -> None:
    # the agent's output narrows in the work tree: reported against HEAD, whose ops.twdsl
    # (read from HEAD, not from disk) still says string; a url result fits what callers read,
    # a string recorded by a run in flight may not fit what the new version reads
    (repo / "flows" / "ops.twdsl").write_text(
        "export agent Deploy { input { target: string } output { url: url } }\n")
    (repo / "flows" / "w.twdsl").write_text(
        (repo / "flows" / "w.twdsl").read_text().replace("url: string =", "url: url ="))
    r = run("diff", "HEAD:flows/w.twdsl", "flows/w.twdsl", cwd=repo)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "flows/w.twdsl:6:12: compatible[output-type-narrowed] output 'url' narrowed from string "
        "to url",
        "flows/ops.twdsl:1:14: breaking[agent-output-changed] output of agent 'Deploy' changed "
        "from { url: string } to { url: url }: a result recorded by a run in flight may not fit "
        "it"]
    r = run("diff", "HEAD:flows/w.twdsl", "HEAD:flows/w.twdsl", cwd=repo)
    assert (r.returncode, r.stdout) == (0, "")
    # from a subfolder, ./ is the current folder; what is only in OLD is placed in REV:path
    (repo / "flows" / "w.twdsl").write_text(
        (repo / "flows" / "w.twdsl").read_text().replace("  input { target: string }\n", "")
        .replace("target: target", 'target: "prod"'))
    r = run("diff", "HEAD:./w.twdsl", "w.twdsl", cwd=repo / "flows")
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == ("HEAD:flows/w.twdsl:4:11: breaking[input-removed] input "
                                        "'target' removed: a caller that gives it is refused")
    r = run("diff", "HEAD:flows/w.twdsl", "flows/w.twdsl", "--format", "json", cwd=repo)
    data = json.loads(r.stdout)
    assert data["old"] == "HEAD:flows/w.twdsl"
    assert data["changes"][0]["location"]["path"] == "HEAD:flows/w.twdsl"


def test_revisions_that_do_not_exist_are_usage_errors(repo: Path) -> None:
    r = run("diff", "nosuch:flows/w.twdsl", "flows/w.twdsl", cwd=repo)
    assert (r.returncode, r.stderr) == (
        2, f"twdsl: error: unknown git revision 'nosuch' in the folder {repo.resolve()}\n")
    r = run("diff", "HEAD:flows/gone.twdsl", "flows/w.twdsl", cwd=repo)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: 'flows/gone.twdsl' is not in revision 'HEAD'\n")
    r = run("diff", "HEAD:flows", "flows/w.twdsl", cwd=repo)  # a folder, not a file
    assert (r.returncode, r.stderr) == (2, "twdsl: error: 'flows' is not in revision 'HEAD'\n")
    r = run("diff", "--output=x:flows/w.twdsl", "flows/w.twdsl", cwd=repo)
    assert r.returncode == 2 and not (repo / "x").exists()
    r = run("diff", "HEAD:../w.twdsl", "flows/w.twdsl", cwd=repo)
    assert (r.returncode, r.stderr) == (
        2, f"twdsl: error: 'HEAD:../w.twdsl': the path is outside the repository "
           f"{repo.resolve()}\n")
    r = run("diff", "--", "-x:flows/w.twdsl", "flows/w.twdsl", cwd=repo)
    assert (r.returncode, r.stderr) == (2, "twdsl: error: '-x' is not a git revision\n")


def test_compile_workflows_gives_what_compile_source_gives_for_each() -> None:
    from twdsl.compiler import compile_workflows
    from twdsl.project import Project
    from twdsl.config import DEFAULT

    text = ('workflow A {\n  version: "1.0.0"\n  task a { agent: "A" retry: 2 }\n}\n'
            'workflow B {\n  version: "1.0.0"\n  input { n: number }\n'
            '  parallel { task b { agent: "B" input: { n: n } } task c { agent: "C" } }\n}\n')
    analysis = Project({"w.twdsl": text}, None).analysis("w.twdsl", DEFAULT)
    for level in (0, 1):
        both = compile_workflows(analysis, level)
        assert list(both) == ["A", "B"]
        for name, comp in both.items():
            alone = compile_source(text, "w.twdsl", name, level)
            assert comp.program is not None and alone.program is not None
            assert comp.program.to_json() == alone.program.to_json()
            assert comp.diagnostics == alone.diagnostics and comp.workflows == ["A", "B"]
    assert list(compile_workflows(analysis, 0, ["B", "Nope"])) == ["B"]
    broken = Project({"w.twdsl": text.replace("n: n", "n: m")}, None).analysis("w.twdsl",
                                                                             DEFAULT)
    assert {n: c.program for n, c in compile_workflows(broken).items()} == {"A": None,
                                                                           "B": None}
