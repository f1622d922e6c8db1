"""Incremental parsing gives exactly the full parse, reusing the pieces an edit left alone."""

from __future__ import annotations

import sys
from pathlib import Path

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
