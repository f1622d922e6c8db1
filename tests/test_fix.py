"""Quick fixes: ``twdsl.fix.apply_fixes`` on its own (exact resulting text), and
``twdsl check --fix`` run as a user runs it (real subprocess, real files, exact output)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import run

from twdsl.analysis import Analysis, analyze
from twdsl.diagnostics import Diagnostic, Fix, Severity, TextEdit
from twdsl.fix import AppliedFix, FixResult, RejectedFix, apply_fixes

H = 'workflow W {\n  version: "1.0.0"\n'
BUILDER = ('agent Builder {\n  input {\n    path: string\n  }\n  output {\n    binary: string\n'
           '  }\n}\n\n')


Analyzer = Callable[[str, str], Analysis]
Rule = Callable[[str, Analysis], list[Diagnostic]]


def fixed(text: str, *, max_rounds: int = 10, analyzer: Analyzer = analyze) -> FixResult:
    return apply_fixes(text, "w.twdsl", max_rounds=max_rounds, analyzer=analyzer)


def applied(r: FixResult) -> list[tuple[str, str, int, int]]:
    return [(f.code, f.title, f.line, f.column) for f in r.applied]


def codes(r: FixResult) -> list[str]:
    return [d.code for d in r.diagnostics]


# ------------------------------------------------------------------------ one fix each
def test_misspelt_field() -> None:
    r = fixed(H + '  task t {\n    agnet: "Echo"\n  }\n}\n')
    assert r.text == H + '  task t {\n    agent: "Echo"\n  }\n}\n'
    assert applied(r) == [("TW120", "rename to 'agent'", 4, 5)]
    assert (r.diagnostics, r.rejected, r.changed) == ([], (), True)


def test_misspelt_task_in_depends() -> None:
    r = fixed(H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
              '    depends: [biuld]\n  }\n}\n')
    assert r.text == (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
                      '    depends: [build]\n  }\n}\n')
    assert applied(r) == [("TW212", "change to 'build'", 8, 15)]
    assert r.diagnostics == []


def test_misspelt_agent() -> None:
    r = fixed(BUILDER + H + '  task b {\n    agent: Biulder\n    input: { path: "src" }\n  }\n}\n')
    assert r.text == BUILDER + H + (
        '  task b {\n    agent: Builder\n    input: {\n      path: "src"\n    }\n  }\n}\n')
    assert applied(r) == [("TW211", "change to 'Builder'", 13, 12)]
    assert r.diagnostics == []


def test_equals_for_colon_is_fixed_and_formatted() -> None:
    r = fixed('workflow W {\n  version = "1.0.0"\n  task t { agent = "Echo" }\n}\n')
    assert r.text == H + '  task t {\n    agent: "Echo"\n  }\n}\n'
    assert applied(r) == [("TW110", "replace '=' with ':'", 2, 11),
                          ("TW110", "replace '=' with ':'", 3, 18)]
    assert r.diagnostics == []


def test_two_fixes_in_one_file() -> None:
    r = fixed(H + '  input {\n    user: strng\n  }\n  task t {\n    agent: "Echo"\n'
              '    input: { name: usr }\n    on_error: skp\n  }\n}\n')
    assert r.text == (H + '  input {\n    user: string\n  }\n  task t {\n    agent: "Echo"\n'
                      '    input: {\n      name: user\n    }\n    on_error: skip\n  }\n}\n')
    assert applied(r) == [("TW310", "change to 'string'", 4, 11),
                          ("TW210", "change to 'user'", 8, 20),
                          ("TW213", "change to 'skip'", 9, 15)]
    assert r.diagnostics == []


# ------------------------------------------------------------------------ rounds
def test_a_syntax_fix_unblocks_semantic_fixes_and_positions_are_the_original_ones() -> None:
    # Round 1 fixes '=' and 'agnt' (one character longer afterwards); semantic checks run only
    # on a file that parses, so 'biuld' is reported, and fixed, in round 2.  Its position is
    # where it was in the text given, not in round 2's text.
    src = (H + '  task build {\n    agent = "B"\n  }\n'
           '  task ship { agnt: "S", depends: [biuld] }\n}\n')
    r = fixed(src)
    assert r.text == (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
                      '    depends: [build]\n  }\n}\n')
    assert applied(r) == [("TW110", "replace '=' with ':'", 4, 11),
                          ("TW120", "rename to 'agent'", 6, 15),
                          ("TW212", "change to 'build'", 6, 36)]
    assert src.splitlines()[5][35:40] == "biuld"
    one = fixed(src, max_rounds=1)
    assert [f.code for f in one.applied] == ["TW110", "TW120"]
    assert codes(one) == ["TW212"]
    assert one.text == (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
                        '    depends: [biuld]\n  }\n}\n')


def _with_extra_fixes(extra: Rule) -> Analyzer:
    """An analyzer that adds the diagnostics ``extra(text, analysis)`` makes to the real ones."""
    def analyzer(text: str, path: str) -> Analysis:
        a = analyze(text, path)
        a.diagnostics = sorted([*a.diagnostics, *extra(text, a)], key=lambda d: d.sort_key)
        return a
    return analyzer


def _synthetic(a: Analysis, code: str, start: int, end: int, new: str) -> Diagnostic:
    span = a.source.span(start, end)
    return Diagnostic(code, Severity.WARNING, "synthetic", span,
                      fix=Fix(f"write {new!r}", (TextEdit(span, new),)))


def test_overlapping_fixes_take_two_rounds() -> None:
    # A (names-stage) rule that wants 'X.result ?? ""' for a result read without a default
    # overlaps the real fix of the misspelt name 'biuld' (both start at 'biuld'): the first
    # by position (the shorter) is applied in round 1; the other is re-reported on the fixed
    # text and applied in round 2.
    def default_rule(text: str, a: Analysis) -> list[Diagnostic]:
        i = text.find(".result }")
        if i < 0:
            return []
        start = text.rfind(" ", 0, i) + 1
        return [_synthetic(a, "TW299", start, i + 7, text[start:i] + '.result ?? ""')]

    src = (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
           '    input: { v: biuld.result }\n  }\n}\n')
    r = fixed(src, analyzer=_with_extra_fixes(default_rule))
    assert r.text == (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
                      '    input: {\n      v: build.result ?? ""\n    }\n  }\n}\n')
    assert applied(r) == [("TW210", "change to 'build'", 8, 17),
                          ("TW299", "write 'build.result ?? \"\"'", 8, 17)]


def test_one_stage_a_round_so_a_later_stage_does_not_echo_an_earlier_one() -> None:
    # 'vresion' is an unknown field (TW120, rename) and the workflow has no version (TW501,
    # insert one): applying both would set version twice.  TW1xx goes first; TW501 is gone.
    r = fixed('workflow W {\n  vresion: "1.0.0"\n  task t {\n    agent: "E"\n  }\n}\n')
    assert r.text == H + '  task t {\n    agent: "E"\n  }\n}\n'
    assert applied(r) == [("TW120", "rename to 'version'", 2, 3)]
    assert r.diagnostics == []


def test_missing_version_is_added() -> None:
    r = fixed('workflow W {\n  task t {\n    agent: "E"\n  }\n}\n')
    assert r.text == 'workflow W {\n  version: "0.1.0"\n  task t {\n    agent: "E"\n  }\n}\n'
    assert applied(r) == [("TW501", 'add version: "0.1.0"', 1, 10)]


def test_the_same_fix_reported_twice_is_applied_once() -> None:
    # An input with a default and a misspelt type is reported twice; the two fixes overlap.
    r = fixed(H + '  input {\n    n: nmuber = 5\n  }\n  task t {\n    agent: "E"\n'
              '    input: {\n      x: n\n    }\n  }\n}\n')
    assert r.text == (H + '  input {\n    n: number = 5\n  }\n  task t {\n    agent: "E"\n'
                      '    input: {\n      x: n\n    }\n  }\n}\n')
    assert applied(r) == [("TW310", "change to 'number'", 4, 8)]


# ------------------------------------------------------------------------ nothing to do
def test_undefined_name_without_a_close_match_has_no_fix() -> None:
    src = H + '  task t { agent: "Echo", input: { x: zzzqqq } }\n}\n'  # not formatted either
    r = fixed(src)
    assert (r.text, r.applied, r.rejected, r.changed) == (src, (), (), False)
    assert [(d.code, d.message) for d in r.diagnostics] == [
        ("TW210", "undefined name 'zzzqqq'")]


def test_syntax_error_without_a_fix_leaves_the_text_alone() -> None:
    src = 'workflow W{version:"1.0.0"\ntask t{agent:"E" input: { x: 1 + }}}\n'
    r = fixed(src)
    assert (r.text, r.applied, r.changed) == (src, (), False)
    assert codes(r) == ["TW110"]


def test_fixed_file_with_syntax_errors_left_is_not_formatted() -> None:
    src = 'workflow W{version = "1.0.0"\ntask t{agent:"E" input: { x: 1 + }}}\n'
    r = fixed(src)
    assert r.text == 'workflow W{version : "1.0.0"\ntask t{agent:"E" input: { x: 1 + }}}\n'
    assert applied(r) == [("TW110", "replace '=' with ':'", 1, 20)]
    assert codes(r) == ["TW110"]


def test_clean_file_is_returned_as_it_came() -> None:
    src = 'workflow W{version:"1.0.0"\ntask t{agent:"E"}}\n'
    r = fixed(src)
    assert (r.text, r.applied, r.diagnostics, r.changed) == (src, (), [], False)


# ------------------------------------------------------------------------ refused fixes
def test_no_colon_fix_is_offered_in_an_input_declaration() -> None:
    # 'x = 1' in an input declaration means a default: 'x: 1' would be another syntax error,
    # so the parser offers no fix there.
    src = H + '  input {\n    x = 1\n  }\n  task t {\n    agent: "E"\n    input: { y: x }\n  }\n}\n'
    r = fixed(src)
    assert (r.text, r.applied, r.rejected) == (src, (), ())
    assert codes(r) == ["TW110"]


def test_fix_that_trades_a_syntax_error_for_another_is_refused() -> None:
    # 'agent = = "E"': the first '=' becoming ':' leaves 'agent: = "E"', still an error.
    src = H + '  task t {\n    agent = = "E"\n  }\n}\n'
    r = fixed(src)
    assert (r.text, r.applied) == (src, ())
    assert r.rejected == (RejectedFix("TW110", "replace '=' with ':'", 4, 11,
                                      "it does not remove the syntax error"),)
    assert codes(r) == ["TW110"]


def test_a_field_is_not_renamed_into_one_already_set_and_other_fixes_still_apply() -> None:
    # Renaming 'agnet' to 'agent' would set agent twice: no fix is offered.  The names-stage
    # fix of 'usr' is applied all the same.
    src = (H + '  input {\n    user: string\n  }\n  task t {\n    agent: "Echo"\n    agnet: "X"\n'
           '    input: { x: usr }\n  }\n}\n')
    r = fixed(src)
    assert r.text == (H + '  input {\n    user: string\n  }\n  task t {\n    agent: "Echo"\n'
                      '    agnet: "X"\n    input: {\n      x: user\n    }\n  }\n}\n')
    assert applied(r) == [("TW210", "change to 'user'", 9, 17)]
    assert (r.rejected, codes(r)) == ((), ["TW120"])


def test_fix_that_brings_a_new_kind_of_error_is_refused() -> None:
    # 'usr' -> 'user' is the closest name, but user is a string where a number is wanted.
    src = ('agent E { input { x: number } output { y: any } }\n' + H
           + '  input {\n    user: string\n  }\n  task t {\n    agent: E\n'
           '    input: { x: usr }\n  }\n  output { u: string = user }\n}\n')
    r = fixed(src)
    assert (r.text, r.applied) == (src, ())
    assert r.rejected == (RejectedFix(
        "TW210", "change to 'user'", 9, 17,
        "it would bring a new error: TW301 input 'x' of agent 'E' expects number, and this is "
        "string"),)
    assert codes(r) == ["TW210"]


def test_depends_is_not_corrected_to_the_task_itself() -> None:
    src = H + '  task build {\n    agent: "A"\n    depends: [buil]\n  }\n}\n'
    r = fixed(src)
    assert (r.text, r.applied, r.rejected) == (src, (), ())  # no suggestion is even made
    assert codes(r) == ["TW212"]


def test_fix_that_adds_syntax_errors_is_refused_and_the_others_applied() -> None:
    def brace_rule(text: str, a: Analysis) -> list[Diagnostic]:
        i = text.find("task t")
        return [_synthetic(a, "TW998", i, i, "{ ")] if i >= 0 else []

    src = H + '  task t {\n    agnet: "Echo"\n  }\n}\n'
    r = fixed(src, analyzer=_with_extra_fixes(brace_rule))
    assert r.text == H + '  task t {\n    agent: "Echo"\n  }\n}\n'
    assert applied(r) == [("TW120", "rename to 'agent'", 4, 5)]
    assert r.rejected == (RejectedFix("TW998", "write '{ '", 3, 3, "it would add syntax errors"),)
    assert codes(r) == ["TW998"]  # still reported, once


def test_fix_outside_the_text_is_refused() -> None:
    def far_rule(text: str, a: Analysis) -> list[Diagnostic]:
        span = a.source.span(0, 0)
        far = type(span)(span.file, len(text) + 5, len(text) + 9, 99, 1, 99, 5)
        return [Diagnostic("TW997", Severity.ERROR, "far", span,
                           fix=Fix("edit far away", (TextEdit(far, "x"),)))]

    src = H + '  task t {\n    agent: "Echo"\n  }\n}\n'
    r = fixed(src, analyzer=_with_extra_fixes(far_rule))
    assert (r.text, r.applied) == (src, ())
    assert r.rejected == (RejectedFix("TW997", "edit far away", 1, 1,
                                      "its edits fall outside the file"),)


def test_malformed_fix_is_refused_not_a_crash() -> None:
    def bad_rule(text: str, a: Analysis) -> list[Diagnostic]:
        span = a.source.span(0, 8)
        edit = TextEdit(a.module, "x")  # type: ignore[arg-type]  # a node where a span belongs
        return [Diagnostic("TW996", Severity.ERROR, "bad", span, fix=Fix("bad", (edit,)))]

    src = H + '  task t {\n    agent: "Echo"\n  }\n}\n'
    r = fixed(src, analyzer=_with_extra_fixes(bad_rule))
    assert (r.text, r.applied) == (src, ())
    assert [f.reason for f in r.rejected] == [
        "its edits are malformed (a bug in twdsl's rule; please report it)"]


def test_applied_fix_record() -> None:
    r = fixed(H + '  task t {\n    agnet: "Echo"\n  }\n}\n')
    assert r.applied == (AppliedFix("TW120", "rename to 'agent'", 4, 5),)
    assert r.source.text == r.text


# ------------------------------------------------------------------------ twdsl check --fix
FIXABLE = 'workflow W {\n  version = "1.0.0"\n  task build { agent: "B" }\n' \
          '  task ship {\n    agnet: "S"\n    depends: [biuld]\n  }\n}\n'
FIXED = (H + '  task build {\n    agent: "B"\n  }\n  task ship {\n    agent: "S"\n'
         '    depends: [build]\n  }\n}\n')
PARTLY = H + '  task t {\n    agent: "E"\n    on_error: skp\n    input: { x: zzzqqq }\n  }\n}\n'
UGLY_CLEAN = 'workflow W{version:"1.0.0"\ntask a{agent:"A"}}\n'


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "fixable.twdsl").write_text(FIXABLE)
    (tmp_path / "partly.twdsl").write_text(PARTLY)
    (tmp_path / "ugly.twdsl").write_text(UGLY_CLEAN)
    return tmp_path


def test_check_fix_fixes_in_place_and_exits_0(files: Path) -> None:
    r = run("check", "--fix", "fixable.twdsl", "ugly.twdsl", cwd=files)
    assert (r.returncode, r.stdout) == (0, "")
    assert r.stderr == "fixed fixable.twdsl (3 fixes)\nchecked 2 files: no problems\n"
    assert (files / "fixable.twdsl").read_text() == FIXED
    assert (files / "ugly.twdsl").read_text() == UGLY_CLEAN  # nothing to fix: not formatted
    again = run("check", "--fix", "fixable.twdsl", cwd=files)
    assert (again.returncode, again.stderr) == (0, "checked 1 file: no problems\n")


def test_check_fix_reports_what_remains_and_exits_1(files: Path) -> None:
    r = run("check", "--fix", ".", cwd=files)
    assert r.returncode == 1
    assert r.stdout == ("partly.twdsl:7:10: error[TW210] undefined name 'zzzqqq'\n"
                        "  7 |       x: zzzqqq\n"
                        "    |          ^^^^^^\n")
    assert r.stderr == ("fixed fixable.twdsl (3 fixes)\nfixed partly.twdsl (1 fix)\n"
                        "checked 3 files: 1 error\n")
    assert (files / "partly.twdsl").read_text() == (
        H + '  task t {\n    agent: "E"\n    on_error: skip\n    input: {\n      x: zzzqqq\n'
        '    }\n  }\n}\n')


def test_check_fix_json(files: Path) -> None:
    r = run("check", "--fix", "--format", "json", "partly.twdsl", cwd=files)
    assert r.returncode == 1
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in json.loads(r.stdout)] == [
        ("partly.twdsl", 7, 10, "TW210")]
    assert r.stderr == "fixed partly.twdsl (1 fix)\n"


def test_check_fix_github(files: Path) -> None:
    r = run("check", "--fix", "--format", "github", "fixable.twdsl", cwd=files)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "fixed fixable.twdsl (3 fixes)\n")


def test_check_fix_keeps_crlf_and_formats(files: Path) -> None:
    (files / "crlf.twdsl").write_bytes(FIXABLE.replace("\n", "\r\n").encode())
    r = run("check", "--fix", "crlf.twdsl", cwd=files)
    assert (r.returncode, r.stderr) == (0, "fixed crlf.twdsl (3 fixes)\n"
                                           "checked 1 file: no problems\n")
    assert (files / "crlf.twdsl").read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_check_fix_says_which_fix_it_refused(files: Path) -> None:
    src = H + '  task t {\n    agent = = "E"\n  }\n}\n'
    (files / "default.twdsl").write_text(src)
    r = run("check", "--fix", "--format", "json", "default.twdsl", cwd=files)
    assert r.returncode == 1
    assert [d["code"] for d in json.loads(r.stdout)] == ["TW110"]
    assert r.stderr == ("twdsl: warning: default.twdsl:4:11: fix not applied: replace '=' with "
                        "':' (TW110): it does not remove the syntax error\n")
    assert (files / "default.twdsl").read_text() == src


def test_check_fix_keeps_the_file_mode(files: Path) -> None:
    (files / "fixable.twdsl").chmod(0o640)
    run("check", "--fix", "fixable.twdsl", cwd=files)
    assert (files / "fixable.twdsl").stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_check_fix_in_a_read_only_folder_exits_2(files: Path) -> None:
    folder = files / "ro"
    folder.mkdir()
    (folder / "f.twdsl").write_text(FIXABLE)
    folder.chmod(0o555)
    try:
        r = run("check", "--fix", "ro/f.twdsl", cwd=files)
    finally:
        folder.chmod(0o755)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "twdsl: error: cannot write 'ro/f.twdsl': Permission denied\n"
    assert (folder / "f.twdsl").read_text() == FIXABLE
