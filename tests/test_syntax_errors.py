"""Syntax and structure errors: each file in tests/fixtures/errors/ holds one to three
independent mistakes and, in its leading comments, the exact diagnostics ``analyze`` must
report for it, in order:

    // expect: 10:3-10:7 TW111 expected '}' to close task 'build' opened at 6:3
    //   related: 6:14-6:15 the unclosed '{' is here
    //   fix: replace '=' with ':' | 5:11-5:12 => ":"
    // xfail: why the parser does not do this yet

``expect`` gives the diagnostic's span (start and end, 1-based, end exclusive), its code and
its message; ``related`` and ``fix`` lines belong to the ``expect`` above them (a fix line is
one edit: the fix's title, the edit's span and its new text as a JSON string).  A diagnostic
with no ``related`` or ``fix`` line must have none.  ``xfail`` marks a fixture whose
expectation is what the parser *should* report and does not yet (strict: it fails once the
parser is fixed, so that the marker is removed).  The lists must match exactly: same count,
order, positions, codes, messages, notes and fixes; every diagnostic here is an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from twdsl.analysis import analyze
from twdsl.diagnostics import Diagnostic, Severity
from twdsl.source import Span

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ROOT / "tests" / "fixtures" / "errors"
FIXTURES = sorted(ERRORS.glob("*.twdsl"))

_POS = r"(\d+:\d+-\d+:\d+)"
_EXPECT = re.compile(rf"^\s*//\s*expect:\s*{_POS}\s+(TW\d+)\s+(.*?)\s*$")
_RELATED = re.compile(rf"^\s*//\s*related:\s*{_POS}\s+(.*?)\s*$")
_FIX = re.compile(rf"^\s*//\s*fix:\s*(.*?)\s*\|\s*{_POS}\s*=>\s*(\".*\")\s*$")
_XFAIL = re.compile(r"^\s*//\s*xfail:\s*(.*?)\s*$")


@dataclass
class Fixture:
    path: Path
    text: str
    expected: list[str] = field(default_factory=list)
    xfail: str | None = None


def load(path: Path) -> Fixture:
    """Read a fixture and its expectations (in the same line format as ``describe``)."""
    text = path.read_text(encoding="utf-8")
    fx = Fixture(path, text)
    for line in text.splitlines():
        if m := _EXPECT.match(line):
            fx.expected.append(f"{m[1]} {m[2]} {m[3]}")
        elif m := _RELATED.match(line):
            assert fx.expected, f"{path.name}: 'related' before any 'expect'"
            fx.expected.append(f"  related: {m[1]} {m[2]}")
        elif m := _FIX.match(line):
            assert fx.expected, f"{path.name}: 'fix' before any 'expect'"
            fx.expected.append(f"  fix: {m[1]} | {m[2]} => {json.dumps(json.loads(m[3]))}")
        elif m := _XFAIL.match(line):
            fx.xfail = m[1]
        elif re.match(r"^\s*//\s*(expect|related|fix|xfail)\b", line):
            raise AssertionError(f"{path.name}: malformed expectation line: {line!r}")
    return fx


def _pos(s: Span) -> str:
    return f"{s.line}:{s.column}-{s.end_line}:{s.end_column}"


def describe(d: Diagnostic) -> list[str]:
    """A diagnostic in the fixtures' expectation format."""
    out = [f"{_pos(d.span)} {d.code} {d.message}"]
    out += [f"  related: {_pos(r.span)} {r.message}" for r in d.related]
    if d.fix is not None:
        out += [f"  fix: {d.fix.title} | {_pos(e.span)} => {json.dumps(e.new_text)}"
                for e in d.fix.edits]
    return out


def _params() -> list[object]:
    out = []
    for path in FIXTURES:
        fx = load(path)
        marks = [pytest.mark.xfail(strict=True, reason=fx.xfail)] if fx.xfail else []
        out.append(pytest.param(fx, id=path.name, marks=marks))
    return out


# --------------------------------------------------------------------------- the runner
@pytest.mark.parametrize("fx", _params())
def test_error_fixture(fx: Fixture) -> None:
    assert fx.expected, f"{fx.path.name} states no expected diagnostic"
    result = analyze(fx.text, fx.path.name)
    actual = [line for d in result.diagnostics for line in describe(d)]
    assert actual == fx.expected
    assert [d.severity for d in result.diagnostics] == [Severity.ERROR] * len(result.diagnostics)
    assert not result.ok


def test_there_are_fixtures_with_one_two_and_three_mistakes() -> None:
    counts = {}
    for path in FIXTURES:
        fx = load(path)
        counts[path.name] = sum(1 for line in fx.expected if not line.startswith(" "))
    assert len(FIXTURES) >= 25
    assert {1, 2, 3} <= set(counts.values())
    assert counts["three_mistakes.twdsl"] == 3
    assert counts["three_syntax_mistakes.twdsl"] == 3
    assert counts["three_lexical_mistakes.twdsl"] == 3


def _codes_in_sources() -> set[str]:
    codes: set[str] = set()
    for src in (ROOT / "twdsl" / "syntax").glob("*.py"):
        codes |= set(re.findall(r"\"(TW1\d\d)\"", src.read_text(encoding="utf-8")))
    return codes


def test_every_syntax_and_structure_code_has_a_fixture() -> None:
    """Every TW1xx code the syntax stage can report is triggered by some fixture here (and
    the valid corpus in tests/fixtures/syntax/ triggers none: test_ast_snapshots.py)."""
    codes = _codes_in_sources()
    assert {"TW100", "TW101", "TW102", "TW103", "TW104", "TW110", "TW111", "TW112", "TW113",
            "TW120", "TW121", "TW122", "TW123", "TW124", "TW130"} <= codes
    expected = {line.split()[1] for path in FIXTURES for line in load(path).expected
                if not line.startswith(" ")}
    assert codes - expected == set()


# --------------------------------------------------------------------------- the format
def test_load_reads_every_kind_of_line(tmp_path: Path) -> None:
    p = tmp_path / "x.twdsl"
    p.write_text("// expect: 1:2-1:3 TW110 a b\n//   related: 3:4-3:5 note\n"
                 "//   fix: do it | 1:2-1:3 => \":\"\n// xfail: not yet\nworkflow W {}\n")
    fx = load(p)
    assert fx.expected == ["1:2-1:3 TW110 a b", "  related: 3:4-3:5 note",
                           '  fix: do it | 1:2-1:3 => ":"']
    assert fx.xfail == "not yet"
    p.write_text("// expect: 1:2 TW110 no end position\n")
    with pytest.raises(AssertionError, match="malformed"):
        load(p)


def test_describe_matches_the_format() -> None:
    text = "workflow W {\n  task a {\n    agent = A\n  }\n}\n"
    (d,) = analyze(text, "w.twdsl").diagnostics
    assert describe(d) == [
        "3:11-3:12 TW110 unexpected '=' in task 'a'; fields are written 'name: value'",
        '  fix: replace \'=\' with \':\' | 3:11-3:12 => ":"',
    ]


# --------------------------------------------------------------------------- more cases
def _diags(text: str) -> list[str]:
    return [line for d in analyze(text, "t.twdsl").diagnostics for line in describe(d)]


def test_missing_brace_message_names_the_opener_line_of_the_task() -> None:
    """The README's example, exactly."""
    text = ("workflow W {\n  version: \"1.0.0\"\n  task build {\n    agent: \"Builder\"\n"
            "  task deploy {\n    agent: \"Deployer\"\n  }\n}\n")
    assert _diags(text) == [
        "5:3-5:7 TW111 expected '}' to close task 'build' opened at 3:3",
        "  related: 3:14-3:15 the unclosed '{' is here",
    ]


@pytest.mark.parametrize("text, expected", [
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: f(1, 2 }\n}\n",
     ["3:26-3:27 TW111 expected ')' to close '(' opened at 3:20",
      "  related: 3:20-3:21 the unclosed '(' is here"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a { depends: [a, b }\n}\n",
     ["3:27-3:28 TW111 expected ']' to close '[' opened at 3:21",
      "  related: 3:21-3:22 the unclosed '[' is here"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a {\n    agent: f(1))\n  }\n}\n",
     ["4:16-4:17 TW112 unexpected ')': there is no open '(' to close here; delete it"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a {\n    depends: [a]]\n  }\n}\n",
     ["4:17-4:18 TW112 unexpected ']': there is no open '[' to close here; delete it"]),
    # one line, one '{' short: the '}' at column 1 lines up with the workflow, so it is the
    # task's '}' that is missing
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: A\n}\n",
     ["4:1-4:2 TW111 expected '}' to close task 'a' opened at 3:3",
      "  related: 3:10-3:11 the unclosed '{' is here"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: \"${x\" }\n}\n",
     ["3:20-3:22 TW130 unterminated interpolation: add '}' to close '${'"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: \"A\", timeout: 5s, timeout: 6s }\n}\n",
     ["3:37-3:44 TW121 field 'timeout' is set twice in task 'a'",
      "  related: 3:24-3:31 first set here"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: '\\x' }\n}\n",
     ["3:20-3:22 TW103 unknown escape sequence '\\x': use \\n, \\t, \\r, \\\\, \\\", \\', \\$ "
      "or \\u{…}; write '\\\\' for a backslash"]),
    ("workflow W {\n  version: \"1.0.0\"\n  task a { agent: A, input: { a: [ task b {} ] } }\n}\n",
     # `task` is a plain name where an expression stands (keywords are contextual)
     ["3:41-3:42 TW110 unexpected name 'b' in the 'input' object; expected ',', ']' or an operator"]),
])
def test_more_single_mistakes(text: str, expected: list[str]) -> None:
    assert _diags(text) == expected


def test_the_same_mistake_in_many_tasks_is_reported_once_per_task() -> None:
    tasks = "".join(f"  task t{i} {{\n    agent = A\n  }}\n" for i in range(10))
    text = "workflow W {\n  version: \"1.0.0\"\n" + tasks + "}\n"
    assert [line.split(" TW")[0] for line in _diags(text) if not line.startswith(" ")] == [
        f"{4 + 3 * i}:11-{4 + 3 * i}:12" for i in range(10)]
