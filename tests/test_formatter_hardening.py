"""The formatter under pressure (issue 16): linear in nesting, limits that end in a clear
error rather than a crash, no comment lost at any token boundary, idempotent; properties over
generated programs (hypothesis, with the fuzzer's grammar-aware generator)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fuzz import mutate, programs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twdsl import FormatError, format_source, parse
from twdsl.formatter import MAX_DEPTH, MAX_INDENT, format_parsed
from twdsl.syntax.ast import dump

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("examples/*.twdsl"))


def nested(n: int) -> str:
    return 'workflow W {\n  version: "1.0.0"\n  tags: ' + "[" * n + "1" + "]" * n + "\n}\n"


def formatter_calls(text: str) -> int:
    """How many Python calls the formatter makes formatting ``text`` (its functions only):
    a count, not a time, so the same on every machine."""
    result = parse(text, "x")
    count = 0
    formatter = str(ROOT / "twdsl" / "formatter.py")

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call" and frame.f_code.co_filename == formatter:  # type: ignore[attr-defined]
            count += 1

    sys.setprofile(profile)
    try:
        format_parsed(result)
    finally:
        sys.setprofile(None)
    return count


def test_work_grows_linearly_with_nesting() -> None:
    """Doubling the depth of a nested array (64 -> 128 levels, over the line width so that
    every level is laid out) doubles the formatter's calls; it once doubled per level."""
    small, large = formatter_calls(nested(64)), formatter_calls(nested(128))
    assert 1.8 < large / small < 2.2, (small, large)


def test_sixty_four_nested_arrays_format() -> None:
    out = format_source(nested(64), "deep")
    lines = out.splitlines()
    # every level on lines of its own: deep down, the indentation alone passes 100 columns
    assert lines[2:5] == ["  tags: [", "    [", "      ["]
    assert lines[66:68] == ["  " * 65 + "1,", "  " * 64 + "],"]
    assert len(lines) == 2 * 64 + 4
    assert format_source(out, "deep") == out
    assert dump(parse(out, "a").module, spans=False) == dump(parse(nested(64), "b").module,
                                                             spans=False)


def test_nesting_beyond_the_indentation_limit_is_a_clear_error() -> None:
    with pytest.raises(FormatError) as e:
        format_source(nested(MAX_INDENT + 5), "deep.twdsl")
    assert e.value.diagnostics == []
    assert str(e.value) == (
        f"deep.twdsl:3:{9 + MAX_INDENT}: cannot format this file: it nests more than "
        f"{MAX_INDENT:,} levels of indentation deep here (the formatter's limits are in "
        'docs/language.md, "Limits")')


def test_fifty_thousand_levels_end_in_exit_2_not_a_crash(tmp_path: Path) -> None:
    """`twdsl fmt` as a process: a file nested 50,000 levels deep (it once segfaulted)."""
    (tmp_path / "deep.twdsl").write_text(nested(50_000))
    done = subprocess.run([sys.executable, "-m", "twdsl.cli", "fmt", "deep.twdsl"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == (
        f"twdsl: error: deep.twdsl:3:{8 + MAX_DEPTH - 2}: cannot format this file: its syntax "
        f"tree nests more than {MAX_DEPTH:,} levels deep here (the formatter's limits are in "
        'docs/language.md, "Limits")\n')
    assert (tmp_path / "deep.twdsl").read_text() == nested(50_000)  # untouched


@pytest.mark.parametrize("source, kept", [
    # issue 16's lost comments: in a record type, before an object in an array
    ("type T = { a: string, /* keep */ b: number }\n", "/* keep */"),
    ('workflow W {\n  version: "1"\n  tags: [ /* keep me */ { a: 1 } ]\n}\n', "/* keep me */"),
    ('workflow W {\n  version: "1"\n  input { stack /* keep */ : { a: string, '
     'b: array<{ c: number }> } }\n}\n', "/* keep */"),
    ('workflow W {\n  version: "1"\n  tags: [[1, /* keep */ 2], 3]\n}\n', "/* keep */"),
])
def test_comments_inside_laid_out_constructs_are_kept(source: str, kept: str) -> None:
    once = format_source(source, "c")
    assert [c.text for c in parse(once, "c").comments] == [kept]
    assert format_source(once, "c") == once


@pytest.mark.parametrize("source", [
    'template T(a: number where { /* c */ min: 1 }) {\n  description: "d"\n}\n',
    'template T(a: number, b /* c */ : string) {\n  description: "d"\n}\n',
    'template T(a: number /* c */) {\n  description: "d"\n}\n',
])
def test_template_parameters_with_comments_format_idempotently(source: str) -> None:
    once = format_source(source, "t")
    assert format_source(once, "t") == once
    assert [c.text for c in parse(once, "t").comments] == ["/* c */"]


@pytest.mark.parametrize("params", ["", "a: number, b: string"])
def test_a_template_header_longer_than_a_line(params: str) -> None:
    """It raised IndexError when the header passed 100 columns."""
    mixins = ", ".join(f"VeryLongMixinName{i}" for i in range(8))
    src = f"template T({params}) extends {mixins} {{\n  description: \"d\"\n}}\n"
    out = format_source(src, "t")
    assert format_source(out, "t") == out
    assert dump(parse(out, "a").module, spans=False) == dump(parse(src, "b").module,
                                                             spans=False)
    first = out.splitlines()[0]
    assert first == (f"template T() extends {mixins} {{" if not params else "template T(")


def _sweep(path: Path) -> list[str]:
    text = path.read_text()
    problems = []
    for at in mutate.boundaries(text):
        for comment in mutate.COMMENTS:
            src = mutate.with_comment(text, at, comment)
            first = parse(src, "a")
            if not first.ok:  # a line comment cannot go inside every construct
                continue
            once = format_parsed(first)
            second = parse(once, "b")
            where = f"{path.name}@{at} {comment!r}"
            if format_parsed(second) != once:
                problems.append(f"{where}: not idempotent")
            if Counter(c.text for c in second.comments) != Counter(c.text for c in
                                                                   first.comments):
                problems.append(f"{where}: a comment was lost")
            if dump(first.module, spans=False) != dump(second.module, spans=False):
                problems.append(f"{where}: the program changed")
    return problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_a_comment_at_every_token_boundary_survives(path: Path) -> None:
    """Before and after every token of the examples, a block and a line comment: kept, the
    program unchanged, and formatting idempotent."""
    assert _sweep(path) == []


# ------------------------------------------------------------------ properties
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_programs_format_keeping_comments_and_meaning(data: st.DataObject) -> None:
    chooser = programs.DataChooser(data)
    text = programs.program(chooser, comment_rate=0.15, depth=3, size=4)
    first = parse(text, "g")
    assert first.ok, [d.message for d in first.diagnostics]
    once = format_parsed(first)
    second = parse(once, "g")
    assert format_parsed(second) == once
    assert Counter(c.text for c in second.comments) == Counter(c.text for c in first.comments)
    assert dump(second.module, spans=False) == dump(first.module, spans=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_layout_does_not_change_the_result(data: st.DataObject) -> None:
    """The same tokens laid out two ways (spaces, line breaks, blank lines removed) format
    the same: blank lines are the one piece of layout the formatter keeps."""
    chooser = programs.DataChooser(data)
    tokens = programs.program_tokens(chooser, depth=3, size=4)
    no_blank = (" ", "\n", "\t", "  ", "")
    one = programs.layout(tokens, chooser, spaces=no_blank)
    other = programs.layout(tokens, chooser, spaces=no_blank)
    assert format_source(one, "a") == format_source(other, "b")
