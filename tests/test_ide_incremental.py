"""Incremental parsing gives exactly the full parse, reusing the pieces an edit left alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twdsl import ide
from twdsl.ide.incremental import IncrementalParser, pieces
from twdsl.syntax.ast import dump
from twdsl.syntax.parser import ParseResult, parse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402

EXAMPLE = (ROOT / "examples" / "create_full_stack_app.twdsl").read_text()


def assert_same(a: ParseResult, b: ParseResult) -> None:
    assert dump(a.module) == dump(b.module)
    assert a.module.span == b.module.span
    assert [(c.text, c.span) for c in a.comments] == [(c.text, c.span) for c in b.comments]
    assert a.diagnostics == b.diagnostics
    assert a.source.text == b.source.text


def test_pieces_cut_at_top_level_declarations() -> None:
    text = '// lead\nimport "./a.twdsl"\nexport agent A {}\n\nworkflow W {\n  type: 1\n}\n'
    assert [text[a:b] for a, b in pieces(text)] == [
        "// lead\n", 'import "./a.twdsl"\n', "export agent A {}\n\n",
        "workflow W {\n  type: 1\n}\n"]


def test_an_edit_reparses_one_piece_and_moves_the_rest() -> None:
    text = gen.generate(600, checked=True)
    parser = IncrementalParser()
    assert_same(parser.parse(text, "g.twdsl"), parse(text, "g.twdsl"))
    n = len(pieces(text))
    assert parser.reused == 0
    at = text.index('description: "', len(text) // 2) + len('description: "')
    edited = text[:at] + "more " + text[at:]
    assert_same(parser.parse(edited, "g.twdsl"), parse(edited, "g.twdsl"))
    assert parser.reused == n - 1  # every piece but the edited one
    assert_same(parser.parse(text, "g.twdsl"), parse(text, "g.twdsl"))
    assert parser.reused == n - 1


def test_syntax_errors_fall_back_to_the_full_parse() -> None:
    parser = IncrementalParser()
    text = EXAMPLE.replace("workflow CreateFullStackApp {", "workflow CreateFullStackApp {{", 1)
    result = parser.parse(text, "x.twdsl")
    assert not result.ok
    assert_same(result, parse(text, "x.twdsl"))
    # a cut inside a string: the piece does not lex, so the file is parsed whole
    text = 'workflow W {\n  description: """\nagent A {}\n"""\n  version: "1"\n}\n'
    result = parser.parse(text, "s.twdsl")
    assert result.ok and len(pieces(text)) == 2
    assert_same(result, parse(text, "s.twdsl"))


def test_every_prefix_of_a_real_file_parses_as_the_full_parse() -> None:
    parser = IncrementalParser()
    for end in range(0, len(EXAMPLE) + 1, 41):
        text = EXAMPLE[:end]
        assert_same(parser.parse(text, "x.twdsl"), parse(text, "x.twdsl"))


# ----------------------------------------------------------------- reusing checks per workflow
REUSE_SRC = '''agent Fetch {
  input { url: string }
  output { body: string }
}

workflow A {
  version: "1.0.0"
  task a1 { agent: Fetch input: { url: "x" } }
  task a2 { agent: Fetch input: { url: a1.result.bodyy } }
}

workflow B {
  version: "1"
  task b1 { agent: Fetch input: { url: 5 } }
}

workflow C {
  version: "1.0.0"
  task c1 { agent: Fetch input: { url: "z" } }
}
'''


def _diags(snaps: dict[str, ide.Snapshot]) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.line, d.span.column, d.message)
            for d in snaps["w.twdsl"].analysis.diagnostics]


@pytest.mark.parametrize("edit", [
    ('url: "z"', 'url: "zz"'),
    ('version: "1"\n', 'version: "1.0.1"\n  description: "more\nlines"\n'),  # B moves C down
    ('  version: "1.0.0"\n  task a1', '  task a1'),  # A loses a line: B and C move up
    ("workflow C", "workflow B"),  # a duplicate name: checked across workflows every time
    ("output { body: string }", "output { body: number }"),  # the environment: all again
])
def test_reused_checks_give_the_diagnostics_of_a_full_analysis(edit: tuple[str, str]) -> None:
    parser = IncrementalParser()
    first = ide.analyze_documents({"w.twdsl": REUSE_SRC}, parser=parser)
    assert _diags(first) == _diags(ide.analyze_documents({"w.twdsl": REUSE_SRC}))
    text = REUSE_SRC.replace(*edit)
    again = ide.analyze_documents({"w.twdsl": text}, parser=parser)
    assert _diags(again) == _diags(ide.analyze_documents({"w.twdsl": text}))
    assert len(_diags(again)) >= 2


def test_a_workflow_is_checked_again_only_when_its_text_changes() -> None:
    parser = IncrementalParser()
    ide.analyze_documents({"w.twdsl": REUSE_SRC}, parser=parser)
    text = REUSE_SRC.replace('url: "z"', 'url: "zz"')
    snaps = ide.analyze_documents({"w.twdsl": text}, parser=parser)
    assert parser.reuse("w.twdsl").reused == 2  # A and B; C was edited
    model = snaps["w.twdsl"].analysis.model
    assert model is not None and [b.decl.name.name for b in model.bodies] == ["C"]


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["", "x", "1", "}", "\n", "a."])),
                min_size=1, max_size=6))
def test_a_sequence_of_edits_keeps_reused_checks_equal_to_full_ones(
        edits: list[tuple[int, str]]) -> None:
    """Random edits (a character deleted or typed anywhere), one after another through one
    incremental parser: each analysis has the diagnostics of a full one."""
    text = gen.generate(300, checked=True)
    parser = IncrementalParser()
    ide.analyze_documents({"w.twdsl": text}, parser=parser)
    for at, typed in edits:
        at %= len(text)
        text = text[:at] + typed + text[at + (0 if typed else 1):]
        fast = ide.analyze_documents({"w.twdsl": text}, parser=parser)
        assert _diags(fast) == _diags(ide.analyze_documents({"w.twdsl": text}))
