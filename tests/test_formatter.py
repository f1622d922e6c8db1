"""Formatter: golden files, and properties over every example and fixture file:
formatting twice changes nothing, every comment survives, the program means the same
(same AST ignoring spans), and the output does not depend on the input's layout."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from twdsl import FormatError, format_source, parse
from twdsl.syntax.ast import dump
from twdsl.syntax.lexer import tokenize

ROOT = Path(__file__).resolve().parent.parent
FORMAT = ROOT / "tests" / "fixtures" / "format"
GOLDEN = sorted(FORMAT.glob("*.input.twdsl"))
CORPUS = sorted({*ROOT.glob("examples/[!.]*.twdsl"), *ROOT.glob("tests/fixtures/syntax/*.twdsl"),
                 *GOLDEN})


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", GOLDEN, ids=_id)
def test_golden(path: Path) -> None:
    expected = path.with_name(path.name.replace(".input.", ".expected."))
    assert format_source(path.read_text(), str(path)) == expected.read_text()


@pytest.mark.parametrize("path", CORPUS, ids=_id)
def test_properties(path: Path) -> None:
    src = path.read_text()
    once = format_source(src, str(path))
    assert format_source(once, str(path)) == once, "formatting is not idempotent"
    before, after = parse(src, "a"), parse(once, "b")
    assert after.ok
    assert sorted(c.text for c in before.comments) == sorted(c.text for c in after.comments)
    assert dump(before.module, spans=False) == dump(after.module, spans=False)


@pytest.mark.parametrize("path", CORPUS, ids=_id)
def test_layout_does_not_matter(path: Path) -> None:
    """Re-space a comment-free version of the file at random: the result is the same as for
    the file on one line (blank lines are the one piece of layout the formatter keeps)."""
    src = path.read_text()
    tokens, comments, _ = tokenize(src, "x")
    if comments:  # comments are placed by the line they are on; strip them for this test
        for c in sorted(comments, key=lambda c: -c.span.start):
            src = src[: c.span.start] + " " * len(c.text.splitlines()[0]) + src[c.span.end:]
        tokens, _, _ = tokenize(src, "x")
    expected = format_source(" ".join(t.value for t in tokens), "x")
    rng = random.Random(path.name)
    for _ in range(3):
        spaced = "".join(t.value + rng.choice([" ", "\n", "  \n\t", " "]) for t in tokens)
        assert format_source(spaced, "x") == expected


def test_refuses_syntax_errors() -> None:
    with pytest.raises(FormatError) as info:
        format_source("workflow W {\n  task a {\n}\n", "broken.twdsl")
    assert [d.code for d in info.value.diagnostics] == ["TW111"]
    # By indentation the last '}' closes the workflow, so the task is the unclosed block.
    assert str(info.value) == "broken.twdsl:3:1: expected '}' to close task 'a' opened at 2:3"


def test_empty_and_comment_only_files() -> None:
    assert format_source("", "e") == ""
    assert format_source("\n\n  \n", "e") == ""
    assert format_source("  // only a comment  \n\n", "e") == "// only a comment  \n"


def test_long_array_breaks_and_short_array_stays_inline() -> None:
    short = 'workflow W {\n  tags: ["a", "b"]\n}\n'
    assert format_source(short, "s") == short
    items = ", ".join(f'"item{i:02d}"' for i in range(12))
    out = format_source(f"workflow W {{ tags: [{items}] }}", "l")
    assert out.splitlines()[1:4] == ["  tags: [", '    "item00",', '    "item01",']
    assert out.splitlines()[-3:] == ['    "item11",', "  ]", "}"]


def test_deeply_nested_input_formats() -> None:
    """Generated files can nest thousands of levels; the recursive printer must cope."""
    total = " + ".join(["1"] * 5000)
    out = format_source(f"workflow W {{ input: {total} }}", "deep")
    assert out == f"workflow W {{\n  input: {total}\n}}\n"
    nested = "workflow W {" + " parallel {" * 600 + "}" * 600 + "}"
    lines = format_source(nested, "deep").splitlines()
    assert lines[600] == "  " * 600 + "parallel {}"
    assert lines[601] == "  " * 599 + "}"
    assert len(lines) == 2 * 600 + 1
